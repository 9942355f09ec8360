//! What the app answers reaches the client as Apache's response: status,
//! headers (checked), HEAD, and Apache's own filters and handlers around it.

use crate::common;

use std::time::Duration;

use common::{Artifact, Echo, Request, TestServer, pseudo_random};

fn echo_server(extra: &str) -> TestServer {
    TestServer::builder()
        .app(Artifact::Echo)
        .app(Artifact::Hello)
        .config(
            "RustgiScriptAlias /app @APPS@/libecho.so\n\
             RustgiScriptAlias /hello @APPS@/libhello.so",
        )
        .config(extra)
        .start()
}

#[test]
fn status_is_passed_through() {
    let srv = echo_server("");
    // Checked all before failing, so a failure lists every wrong status.
    let mut wrong = Vec::new();
    for status in [200u16, 201, 202, 299, 400, 404, 418, 451, 500, 503, 599] {
        let resp = srv.get(&format!("/app/s?status={status}"));
        // The app's own body, not an Apache error page.
        let echo = Echo::new(resp.json());
        assert_eq!(echo.str("query_string"), format!("status={status}"));
        let line = format!("{} {}", resp.head.status, resp.head.reason);
        if resp.status() != status || !line.starts_with(&format!("{status} ")) {
            wrong.push(format!("status={status} answered {line:?}"));
        }
    }
    assert!(wrong.is_empty(), "statuses not passed through: {wrong:#?}");
}

#[test]
fn hello_answers() {
    let srv = echo_server("");
    let resp = srv.get("/hello");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text(), "Hello, World!");
    assert!(
        resp.header("Content-Type")
            .is_some_and(|v| v.starts_with("text/plain"))
    );
}

#[test]
fn head_gets_headers_and_no_body() {
    let srv = echo_server("");
    for target in ["/app/h?status=201", "/hello", "/app/h?size=100000"] {
        let get = srv.get(target);
        let head = srv.open(&Request::head(target));
        assert_eq!(head.head.status, get.status(), "HEAD {target}");
        assert_eq!(
            head.head.header("Content-Type"),
            get.header("Content-Type"),
            "HEAD {target}"
        );
        // Nothing follows the head before the server closes the connection.
        let rest = head.read_after_body().unwrap();
        assert!(
            rest.is_empty(),
            "HEAD {target} got {} body bytes: {:?}",
            rest.len(),
            String::from_utf8_lossy(&rest[..rest.len().min(200)])
        );
    }
}

#[test]
fn app_headers_reach_the_client() {
    let srv = echo_server("");
    let resp =
        srv.get("/app?header=X-Good:yes&header=X-Rep:1&header=X-Rep:2&header=X-Enc:a%20b%2Cc");
    assert_eq!(resp.status(), 200, "{}", resp.text());
    assert_eq!(resp.header("X-Good"), Some("yes"));
    assert_eq!(resp.header_all("X-Rep"), vec!["1", "2"]);
    assert_eq!(resp.header("X-Enc"), Some("a b,c"));
}

#[test]
fn header_with_crlf_is_refused() {
    let srv = echo_server("");
    let resp = srv.get("/app?header=X-Bad:a%0D%0AInjected:%201");
    assert_eq!(
        resp.status(),
        500,
        "{:?}\n{}",
        resp.head.headers,
        resp.text()
    );
    for (name, value) in &resp.head.headers {
        assert!(
            !name.eq_ignore_ascii_case("Injected") && !value.contains("Injected"),
            "injected header in the response: {name}: {value}"
        );
    }
    assert!(!resp.text().contains("Injected: 1"));
    srv.wait_for_log_match(
        "at rustgi:error or rustgi:warn about a header",
        Duration::from_secs(5),
        |l| {
            (l.contains("rustgi:error") || l.contains("rustgi:warn"))
                && l.to_lowercase().contains("header")
        },
    );

    // NUL and a bad header name are refused too.
    let resp = srv.get("/app?header=X-Nul:a%00b");
    assert_eq!(resp.status(), 500, "{:?}", resp.head.headers);
    let resp = srv.get("/app?header=Bad%20Name:x");
    assert_eq!(resp.status(), 500, "{:?}", resp.head.headers);
    // The server still answers.
    assert_eq!(srv.get("/app?header=X-Fine:1").header("X-Fine"), Some("1"));
}

#[test]
fn apache_filters_apply_to_app_output() {
    let srv = echo_server(
        "AddOutputFilterByType DEFLATE application/json\n\
         Header set X-Added yes",
    );
    let padding = "p".repeat(4000);
    let target = format!("/app/z?pad={padding}");
    let gz = srv.send(&Request::get(&target).header("Accept-Encoding", "gzip"));
    assert_eq!(gz.status(), 200);
    assert_eq!(
        gz.header("Content-Encoding"),
        Some("gzip"),
        "{:?}",
        gz.head.headers
    );
    assert_eq!(gz.header("X-Added"), Some("yes"));
    assert_eq!(&gz.body[..2], &[0x1f, 0x8b], "gzip magic");

    let plain = srv.get(&target);
    assert_eq!(plain.header("Content-Encoding"), None);
    assert_eq!(plain.header("X-Added"), Some("yes"));
    assert!(gz.body.len() < plain.body.len() / 2, "compressed");
    let _ = plain.json();

    // Not JSON: not compressed, still gets the header.
    let hello = srv.send(&Request::get("/hello").header("Accept-Encoding", "gzip"));
    assert_eq!(hello.header("Content-Encoding"), None);
    assert_eq!(hello.header("X-Added"), Some("yes"));
    assert_eq!(hello.text(), "Hello, World!");
}

#[test]
fn alias_serves_static_files_next_to_a_root_mount() {
    let mut builder = TestServer::builder();
    let bytes = pseudo_random(50_000, 42);
    builder.add_file("static/blob.bin", &bytes);
    builder.add_file("static/page.html", "<p>static</p>\n");
    let srv = builder
        .app(Artifact::Echo)
        .config(
            "Alias /static/ @ROOT@/static/\n\
             <Directory @ROOT@/static>\n    Require all granted\n</Directory>\n\
             RustgiScriptAlias / @APPS@/libecho.so",
        )
        .start();
    let resp = srv.get("/static/blob.bin");
    assert_eq!(resp.status(), 200);
    assert!(
        resp.body == bytes,
        "not the file's bytes: {} bytes",
        resp.body.len()
    );
    let resp = srv.get("/static/page.html");
    assert_eq!(resp.text(), "<p>static</p>\n");
    assert!(
        resp.header("Content-Type")
            .is_some_and(|v| v.starts_with("text/html")),
        "mod_mime: {:?}",
        resp.header("Content-Type")
    );
    // Everything else goes to the app.
    let echo = srv.echo(&Request::get("/staticx/y"));
    assert_eq!(echo.str("path_info"), "/staticx/y");
    assert_eq!(echo.str("script_name"), "");
}
