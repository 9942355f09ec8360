//! `examples/simple` (PoorWSGI's simple.py in Rust) through the real
//! Apache, deployed in a daemon process group as a site would deploy it:
//! mounted at `/`, with `RustgiAppConfig debug true`, a `secret_key` and
//! the `static_dir` that holds `simple.txt`. Each test checks a part of the
//! example's contract literally: statuses, headers and bodies.

use crate::common;

use common::daemon::require_daemon;
use common::http::Request;
use common::{Artifact, Response, TestServer, pseudo_random};

/// The `secret_key` the app signs its session cookies with.
const SECRET: &str = "e2e-only-secret-0123456789abcdef-0123456789";

/// The file `/simple` serves, as committed.
fn simple_txt() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/simple/static/simple.txt"
    );
    std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Apache with the simple app in the daemon group `simple`, its static
/// directory deployed under the server root.
fn simple_server() -> TestServer {
    require_daemon();
    let mut builder = TestServer::builder().app(Artifact::Simple);
    builder.add_file("static/simple.txt", simple_txt());
    builder
        .config(&format!(
            "RustgiDaemonProcess simple processes=1 threads=4 home=@ROOT@\n\
             RustgiProcessGroup simple\n\
             RustgiScriptAlias / @APPS@/libsimple.so process-group=simple\n\
             RustgiAppConfig debug true\n\
             RustgiAppConfig secret_key {SECRET}\n\
             RustgiAppConfig static_dir @ROOT@/static"
        ))
        .start()
}

/// Asserts the status, with the response in the message.
#[track_caller]
fn assert_status(resp: &Response, status: u16, what: &str) {
    assert_eq!(
        resp.status(),
        status,
        "{what}: {:?}\n{}",
        resp.head.headers,
        resp.text()
    );
}

/// The value of the only `name` header; panics when there is not exactly
/// one.
#[track_caller]
fn only<'a>(resp: &'a Response, name: &str) -> &'a str {
    let values = resp.header_all(name);
    assert_eq!(values.len(), 1, "{name}: {:?}", resp.head.headers);
    values[0]
}

fn html_row(key: &str, value: &str) -> String {
    format!("<tr><td>{key}</td><td>{value}</td></tr>")
}

#[test]
fn index_static_page_and_typed_routes() {
    let srv = simple_server();

    let index = srv.get("/");
    assert_status(&index, 200, "GET /");
    assert_eq!(only(&index, "Content-Type"), "text/html; charset=utf-8");
    assert!(
        index
            .text()
            .contains("<a href=\"/test/static\">/test/static</a>"),
        "{}",
        index.text()
    );

    // /test/static: a strong ETag, and 304 for If-None-Match.
    let page = srv.get("/test/static");
    assert_status(&page, 200, "GET /test/static");
    let etag = only(&page, "ETag").to_owned();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() == 18,
        "{etag}"
    );
    assert_eq!(srv.get("/test/static").header("ETag"), Some(etag.as_str()));
    let not_modified = srv.send(&Request::get("/test/static").header("If-None-Match", &etag));
    assert_status(&not_modified, 304, "If-None-Match: the ETag");
    assert_eq!(not_modified.header("ETag"), Some(etag.as_str()));
    assert!(not_modified.body.is_empty());
    let other = srv.send(&Request::get("/test/static").header("If-None-Match", "\"other\""));
    assert_status(&other, 200, "If-None-Match: another tag");

    // The typed routes: each value as its handler typed it.
    for (path, ty, value, route) in [
        ("/test/42", "i64", "42", "/test/<variable:int>"),
        ("/test/-3", "i64", "-3", "/test/<variable:int>"),
        ("/test/3.14", "f64", "3.14", "/test/<variable:float>"),
        (
            "/test/tester.one@Example.NET",
            "String",
            "tester.one@example.net",
            "/test/<variable:email>",
        ),
        (
            "/test/123e4567-e89b-12d3-a456-426655440000",
            "String",
            "123e4567-e89b-12d3-a456-426655440000",
            "/test/<variable:uuid>",
        ),
        (
            "/test/123E4567-E89B-12D3-A456-426655440000",
            "String",
            "123e4567-e89b-12d3-a456-426655440000",
            "/test/<variable:uuid>",
        ),
    ] {
        let resp = srv.get(path);
        assert_status(&resp, 200, path);
        let text = resp.text();
        for row in [
            html_row("type", ty),
            html_row("value", value),
            html_row("route", &route.replace('<', "&lt;").replace('>', "&gt;")),
        ] {
            assert!(text.contains(&row), "GET {path}: no {row}\n{text}");
        }
        let put = srv.send(&Request::put(path).body("x"));
        assert_status(&put, 405, &format!("PUT {path}"));
        assert_eq!(only(&put, "Allow"), "GET, HEAD, OPTIONS", "PUT {path}");
    }
    // Not an email, not a word, not a number: the custom 404.
    assert_status(&srv.get("/test/a@b@c"), 404, "/test/a@b@c");

    let none = srv.get("/none");
    assert_status(&none, 204, "GET /none");
    assert!(none.body.is_empty());

    // /debug-info (debug is on), the secret masked.
    let debug = srv.get("/debug-info");
    assert_status(&debug, 200, "GET /debug-info");
    let text = debug.text();
    assert!(text.contains(&html_row("secret_key", "********")), "{text}");
    assert!(text.contains(&html_row("debug", "true")), "{text}");
    assert!(text.contains("/test/&lt;variable:email&gt;"), "{text}");
    // Served by the daemon group, not by an Apache child.
    assert!(
        text.contains(&html_row("rustgi.process_group", "simple")),
        "{text}"
    );
    assert!(!text.contains(SECRET), "the secret leaked into /debug-info");
}

#[test]
fn error_pages() {
    let srv = simple_server();

    let resp = srv.get("/internal-server-error");
    assert_status(&resp, 500, "GET /internal-server-error");
    // Debug mode: the page says what failed.
    assert!(
        resp.text().contains("Test of internal server error"),
        "{}",
        resp.text()
    );
    let put = srv.send(&Request::put("/internal-server-error").body(""));
    assert_status(&put, 405, "PUT /internal-server-error");
    assert_eq!(only(&put, "Allow"), "GET, HEAD, OPTIONS");

    // MyValueError, answered by its error handler.
    let resp = srv.get("/bad-request");
    assert_status(&resp, 400, "GET /bad-request");
    assert!(
        resp.text().contains("<h1>400 Bad Request</h1>"),
        "{}",
        resp.text()
    );
    assert!(
        resp.text()
            .contains("value error: ValueError exception test."),
        "{}",
        resp.text()
    );

    let resp = srv.get("/forbidden");
    assert_status(&resp, 403, "GET /forbidden");
    assert!(
        resp.text().contains("<h1>403 Forbidden</h1>"),
        "{}",
        resp.text()
    );

    let resp = srv.get("/not-implemented");
    assert_status(&resp, 501, "GET /not-implemented");
    assert!(
        resp.text().contains("<h1>501 Not Implemented</h1>"),
        "{}",
        resp.text()
    );

    // The custom 404 page names the path.
    for (target, shown) in [
        ("/no-page", "/no-page"),
        ("/no/such%20page", "/no/such page"),
    ] {
        let resp = srv.get(target);
        assert_status(&resp, 404, target);
        assert_eq!(only(&resp, "Content-Type"), "text/html; charset=utf-8");
        let text = resp.text();
        assert!(
            text.contains("<h1>Simple - 404 - Page Not Found</h1>"),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "<p>Your request <code>{shown}</code> was not found.</p>"
            )),
            "{target}: {text}"
        );
    }
}

#[test]
fn streamed_bodies_both_ways() {
    let srv = simple_server();

    // POST /yield reads a chunked body as it arrives.
    let resp = srv.send(&Request::post("/yield").chunked(["0", "1", "2", "3", "4"]));
    assert_status(&resp, 200, "POST /yield, 5 chunks");
    assert_eq!(resp.text(), "received 5 bytes\n");
    let big = pseudo_random(300_000, 7);
    let resp = srv.send(&Request::post("/yield").chunked(big.chunks(4096).map(<[u8]>::to_vec)));
    assert_status(&resp, 200, "POST /yield, 300000 bytes");
    assert_eq!(resp.text(), "received 300000 bytes\n");
    let resp = srv.send(&Request::post("/yield").body("not chunked"));
    assert_eq!(resp.text(), "received 11 bytes\n");

    // GET /yield streams its lines: no Content-Length, chunked on a
    // kept-alive connection.
    let resp = srv.send(&Request::get("/yield").header("Connection", "keep-alive"));
    assert_status(&resp, 200, "GET /yield");
    let lines: String = (0..10).map(|i| format!("line {i}\n")).collect();
    assert_eq!(resp.text(), lines);
    assert_eq!(
        resp.header("Content-Length"),
        None,
        "{:?}",
        resp.head.headers
    );
    assert_eq!(resp.header("Transfer-Encoding"), Some("chunked"));
    assert_eq!(only(&resp, "Content-Type"), "text/plain; charset=utf-8");
}

/// One part of a multipart body.
struct Part<'a> {
    name: &'a str,
    /// The file name and content type, for a file.
    file: Option<(&'a str, &'a str)>,
    content: &'a [u8],
}

fn field<'a>(name: &'a str, content: &'a [u8]) -> Part<'a> {
    Part {
        name,
        file: None,
        content,
    }
}

fn file<'a>(name: &'a str, filename: &'a str, ty: &'a str, content: &'a [u8]) -> Part<'a> {
    Part {
        name,
        file: Some((filename, ty)),
        content,
    }
}

/// A `multipart/form-data` body of `parts`.
fn multipart(boundary: &str, parts: &[Part<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for part in parts {
        let name = part.name;
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let head = match part.file {
            Some((filename, ty)) => format!(
                "Content-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n\
                 Content-Type: {ty}\r\n\r\n"
            ),
            None => format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n"),
        };
        body.extend_from_slice(head.as_bytes());
        body.extend_from_slice(part.content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    body
}

#[test]
fn forms_uploads_and_json() {
    let srv = simple_server();

    // /test/form: GET with query arguments, POST urlencoded and multipart.
    let resp = srv.get("/test/form?gname=Ann&gx=1&gx=2&gx=3");
    assert_status(&resp, 200, "GET /test/form");
    assert!(
        resp.text().contains(&html_row("gname", "Ann")),
        "{}",
        resp.text()
    );
    assert!(
        resp.text().contains(&html_row("gx", "1, 2, 3")),
        "{}",
        resp.text()
    );
    let resp = srv.send(
        &Request::post("/test/form")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("pname=Ond%C5%99ej&psurname=T%C5%AFma&px=8&px=7&px=6"),
    );
    assert_status(&resp, 200, "POST /test/form, urlencoded");
    for row in [
        html_row("pname", "Ondřej"),
        html_row("psurname", "Tůma"),
        html_row("px", "8, 7, 6"),
    ] {
        assert!(resp.text().contains(&row), "no {row}: {}", resp.text());
    }
    let body = multipart(
        "bNd",
        &[field("fname", b"Ann"), field("fx", b"8"), field("fx", b"7")],
    );
    let resp = srv.send(
        &Request::post("/test/form")
            .header("Content-Type", "multipart/form-data; boundary=bNd")
            .body(body),
    );
    assert_status(&resp, 200, "POST /test/form, multipart");
    assert!(
        resp.text().contains(&html_row("fx", "8, 7")),
        "{}",
        resp.text()
    );

    // /test/upload: each file's size.
    let binary = pseudo_random(100_000, 3);
    let body = multipart(
        "----upload7",
        &[
            file("file_0", "photo.bin", "application/octet-stream", &binary),
            field("comment", b"two files"),
            file("file_1", "../../notes.txt", "text/plain", b"some\nnotes\n"),
        ],
    );
    let upload = |body: Vec<u8>, content_type: &str| {
        srv.send(
            &Request::post("/test/upload")
                .header("Content-Type", content_type)
                .body(body),
        )
    };
    let resp = upload(body.clone(), "multipart/form-data; boundary=----upload7");
    assert_status(&resp, 200, "POST /test/upload");
    assert_eq!(
        resp.text(),
        "file_0: photo.bin (application/octet-stream), 100000 bytes\n\
         file_1: notes.txt (text/plain), 11 bytes\n"
    );
    assert_eq!(only(&resp, "Content-Type"), "text/plain; charset=utf-8");
    // Malformed: cut before the closing boundary, or without a boundary.
    let cut = body[..body.len() - 40].to_vec();
    let resp = upload(cut, "multipart/form-data; boundary=----upload7");
    assert_status(&resp, 400, "POST /test/upload, cut short");
    assert!(resp.text().contains("malformed form"), "{}", resp.text());
    let resp = upload(body, "multipart/form-data");
    assert_status(&resp, 400, "POST /test/upload, no boundary");
    assert_status(&srv.get("/test/upload"), 200, "GET /test/upload");

    // /test/json echoes the JSON.
    let resp = srv.send(
        &Request::post("/test/json")
            .header("Content-Type", "application/json")
            .body(r#"{"name": "Ondřej", "list": [1, 2.5, true, null], "nested": {"k": "v"}}"#),
    );
    assert_status(&resp, 200, "POST /test/json");
    assert_eq!(only(&resp, "Content-Type"), "application/json");
    assert_eq!(
        resp.json(),
        serde_json::json!({"name": "Ondřej", "list": [1, 2.5, true, null], "nested": {"k": "v"}})
    );
    let resp = srv.send(
        &Request::post("/test/json")
            .header("Content-Type", "application/json")
            .body(r#"{"name": "#),
    );
    assert_status(&resp, 400, "POST /test/json, bad JSON");
    let resp = srv.send(
        &Request::post("/test/json")
            .header("Content-Type", "text/plain")
            .body("{}"),
    );
    assert_status(&resp, 415, "POST /test/json, text/plain");
}

#[test]
fn file_response_ranges_and_conditional_get() {
    let srv = simple_server();
    let file = simple_txt();
    let len = file.len();

    let resp = srv.get("/simple");
    assert_status(&resp, 200, "GET /simple");
    assert_eq!(resp.body, file);
    assert_eq!(only(&resp, "Content-Length"), len.to_string());
    assert_eq!(only(&resp, "Content-Type"), "text/plain");
    assert_eq!(only(&resp, "Accept-Ranges"), "bytes");
    let etag = only(&resp, "ETag").to_owned();
    let last_modified = only(&resp, "Last-Modified").to_owned();
    assert!(etag.starts_with('"'), "a strong ETag: {etag}");
    assert!(last_modified.ends_with(" GMT"), "{last_modified}");

    // Ranges: 206 with Content-Range.
    for (range, start, end) in [
        ("bytes=0-9", 0, 9),
        ("bytes=100-", 100, len - 1),
        ("bytes=-20", len - 20, len - 1),
    ] {
        let resp = srv.send(&Request::get("/simple").header("Range", range));
        assert_status(&resp, 206, range);
        assert_eq!(
            only(&resp, "Content-Range"),
            format!("bytes {start}-{end}/{len}")
        );
        assert_eq!(only(&resp, "Content-Length"), (end - start + 1).to_string());
        assert_eq!(resp.body, &file[start..=end], "{range}");
    }
    // Past the end: 416.
    let resp = srv.send(&Request::get("/simple").header("Range", &format!("bytes={len}-")));
    assert_status(&resp, 416, "a range past the end");
    assert_eq!(only(&resp, "Content-Range"), format!("bytes */{len}"));
    // If-Range with another validator: the whole file.
    let resp = srv.send(
        &Request::get("/simple")
            .header("Range", "bytes=0-9")
            .header("If-Range", "\"stale\""),
    );
    assert_status(&resp, 200, "If-Range that does not match");
    assert_eq!(resp.body, file);

    // 304s: If-None-Match, If-Modified-Since.
    for (name, value) in [
        ("If-None-Match", etag.as_str()),
        ("If-Modified-Since", last_modified.as_str()),
    ] {
        let resp = srv.send(&Request::get("/simple").header(name, value));
        assert_status(&resp, 304, name);
        assert!(resp.body.is_empty());
        assert_eq!(resp.header("ETag"), Some(etag.as_str()), "{name}");
    }
    let resp = srv.send(
        &Request::get("/simple").header("If-Modified-Since", "Sat, 01 Jan 2000 00:00:00 GMT"),
    );
    assert_status(&resp, 200, "modified since 2000");

    // HEAD: the headers, no body.
    let head = srv.open(&Request::head("/simple"));
    assert_eq!(head.head.status, 200);
    assert_eq!(
        head.head.header("Content-Length"),
        Some(len.to_string().as_str())
    );
    assert!(head.read_after_body().unwrap().is_empty());
}

/// The `name=value` of a `Set-Cookie` header.
fn cookie_pair(set_cookie: &str) -> &str {
    set_cookie.split(';').next().unwrap_or_default()
}

#[test]
fn login_session() {
    let srv = simple_server();
    let login = |passwd: &str| {
        srv.send(
            &Request::post("/login")
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(format!("passwd={passwd}")),
        )
    };

    assert_status(&srv.get("/login"), 200, "GET /login");
    let wrong = login("secret");
    assert_status(&wrong, 403, "a wrong password");
    assert!(wrong.text().contains("Bad password"), "{}", wrong.text());
    assert!(wrong.header("Set-Cookie").is_none());

    let ok = login("SecretPasswds");
    assert_status(&ok, 303, "the right password");
    assert_eq!(only(&ok, "Location"), "/private");
    let set_cookie = only(&ok, "Set-Cookie").to_owned();
    assert!(set_cookie.starts_with("session=s1."), "{set_cookie}");
    assert!(
        set_cookie.ends_with("; Path=/; Max-Age=86400; HttpOnly; SameSite=Lax"),
        "{set_cookie}"
    );
    assert!(
        !set_cookie.contains("Secure"),
        "no Secure over http: {set_cookie}"
    );
    let cookie = cookie_pair(&set_cookie).to_owned();

    let private = srv.send(&Request::get("/private").header("Cookie", &cookie));
    assert_status(&private, 200, "/private with the session");
    assert!(
        private.text().contains("Some private data."),
        "{}",
        private.text()
    );

    // Without it, or with a cookie changed by one character: to /login.
    let value = cookie.strip_prefix("session=s1.").unwrap();
    let flipped = if value.starts_with('A') { 'B' } else { 'A' };
    let tampered = format!("session=s1.{flipped}{}", &value[1..]);
    let forged = format!("session={}", value.replace('.', ""));
    for cookie in [None, Some(tampered.as_str()), Some(forged.as_str())] {
        let mut req = Request::get("/private");
        if let Some(c) = cookie {
            req = req.header("Cookie", c);
        }
        let resp = srv.send(&req);
        assert_status(&resp, 302, &format!("/private with cookie {cookie:?}"));
        assert_eq!(only(&resp, "Location"), "/login", "cookie {cookie:?}");
    }

    let out = srv.send(&Request::get("/logout").header("Cookie", &cookie));
    assert_status(&out, 302, "GET /logout");
    assert_eq!(only(&out, "Location"), "/");
    let removal = only(&out, "Set-Cookie");
    assert!(
        removal.starts_with("session=; Path=/; Max-Age=0"),
        "{removal}"
    );
}
