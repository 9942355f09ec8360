//! The environ an app gets: CGI variables, headers, SetEnv, authentication.

use crate::common;

use common::http::percent_encode;
use common::{Artifact, Request, TestServer, base64, htpasswd, running_as_root};

fn echo_server(extra: &str) -> TestServer {
    TestServer::builder()
        .app(Artifact::Echo)
        .config("RustgiScriptAlias /app @APPS@/libecho.so")
        .config(extra)
        .start()
}

#[test]
fn cgi_variables_of_a_post() {
    let srv = echo_server(
        "SetEnv RUSTGI_E2E_VAR hello-from-setenv\n\
         SetEnv REQUEST_METHOD PATCHED\n\
         SetEnv SCRIPT_NAME /patched\n\
         SetEnv PATH_INFO /patched\n\
         SetEnv QUERY_STRING patched\n\
         SetEnv GATEWAY_INTERFACE patched",
    );
    let req = Request::post("/app/some/path?x=1&y=%20")
        .header("Content-Type", "text/plain; charset=utf-8")
        .header("X-Custom", "yes")
        .header("X_Under", "no")
        .body("12345");
    let resp = srv.send(&req);
    assert_eq!(resp.status(), 200, "{}", resp.text());
    let ct = resp.header("Content-Type").unwrap_or_default();
    assert!(ct.starts_with("application/json"), "Content-Type {ct:?}");
    let echo = common::Echo::new(resp.json());
    let env = echo.environ();
    let port = srv.port().to_string();
    let local_port = resp.local_addr.unwrap().port().to_string();
    let app = srv.apps_dir().join("libecho.so").display().to_string();
    let host = format!("127.0.0.1:{port}");

    for (name, want) in [
        ("REQUEST_METHOD", "POST"),
        ("SCRIPT_NAME", "/app"),
        ("PATH_INFO", "/some/path"),
        ("QUERY_STRING", "x=1&y=%20"),
        ("REQUEST_URI", "/app/some/path?x=1&y=%20"),
        ("CONTENT_TYPE", "text/plain; charset=utf-8"),
        ("CONTENT_LENGTH", "5"),
        ("SERVER_NAME", "127.0.0.1"),
        ("SERVER_PORT", port.as_str()),
        ("SERVER_PROTOCOL", "HTTP/1.1"),
        ("REQUEST_SCHEME", "http"),
        ("REMOTE_ADDR", "127.0.0.1"),
        ("REMOTE_PORT", local_port.as_str()),
        ("HTTP_HOST", host.as_str()),
        ("HTTP_X_CUSTOM", "yes"),
        ("SCRIPT_FILENAME", app.as_str()),
        ("GATEWAY_INTERFACE", "RUSTGI/1"),
        ("rustgi.process_group", "%{GLOBAL}"),
        ("RUSTGI_E2E_VAR", "hello-from-setenv"),
    ] {
        assert_eq!(
            env.get(name).map(String::as_str),
            Some(want),
            "{name}; environ: {env:#?}"
        );
    }
    assert!(!env.contains_key("HTTPS"), "HTTPS on plain HTTP: {env:#?}");
    assert!(
        !env.keys()
            .any(|k| k.to_ascii_uppercase().contains("X_UNDER")),
        "a header with `_` in its name reached the environ: {env:#?}"
    );
    let unique = env.get("UNIQUE_ID").expect("UNIQUE_ID (mod_unique_id)");
    assert!(!unique.is_empty());

    assert_eq!(echo.str("method"), "POST");
    assert_eq!(echo.str("script_name"), "/app");
    assert_eq!(echo.str("path_info"), "/some/path");
    assert_eq!(echo.str("query_string"), "x=1&y=%20");
    assert_eq!(echo.num("body_len"), 5);
    assert_eq!(echo.str("body_sha256"), common::sha256_hex(b"12345"));
    let headers = echo.headers();
    assert_eq!(headers.get("x-custom").map(String::as_str), Some("yes"));
    assert_eq!(headers.get("host"), Some(&host));

    // The app runs in Apache's children, as `User` when started as root.
    assert_ne!(echo.num("pid"), u64::from(srv.apache_pid()));
    if running_as_root() {
        assert_eq!(echo.num("uid"), 65534, "children run as nobody");
    }

    // Every request has its own UNIQUE_ID.
    let again = srv.echo(&Request::get("/app"));
    let other = again.env("UNIQUE_ID").expect("UNIQUE_ID");
    assert_ne!(&other, unique);
    assert_eq!(again.env("REQUEST_METHOD").as_deref(), Some("GET"));
}

/// (request target, extra headers, expected variables: None = absent).
type Case = (
    &'static str,
    Vec<(&'static str, String)>,
    Vec<(&'static str, Option<String>)>,
);

fn s(v: &str) -> Option<String> {
    Some(v.to_owned())
}

#[test]
fn environ_table() {
    let srv = echo_server("LimitRequestFieldSize 16384");
    let big = "x".repeat(8192);
    let cases: Vec<Case> = vec![
        (
            "/app/a%20b",
            vec![],
            vec![
                ("SCRIPT_NAME", s("/app")),
                ("PATH_INFO", s("/a b")),
                ("QUERY_STRING", s("")),
                ("REQUEST_URI", s("/app/a%20b")),
            ],
        ),
        (
            "/app/%C3%A9t%C3%A9",
            vec![],
            vec![
                ("SCRIPT_NAME", s("/app")),
                ("PATH_INFO", s("/été")),
                ("REQUEST_URI", s("/app/%C3%A9t%C3%A9")),
            ],
        ),
        (
            "/app/a%2520b/%7Euser",
            vec![],
            vec![("PATH_INFO", s("/a%20b/~user"))],
        ),
        (
            "/app",
            vec![],
            vec![
                ("SCRIPT_NAME", s("/app")),
                ("PATH_INFO", s("")),
                ("QUERY_STRING", s("")),
                ("REQUEST_URI", s("/app")),
            ],
        ),
        (
            "/app?q",
            vec![],
            vec![
                ("SCRIPT_NAME", s("/app")),
                ("PATH_INFO", s("")),
                ("QUERY_STRING", s("q")),
                ("REQUEST_URI", s("/app?q")),
            ],
        ),
        (
            "/app/?a=1&b=2&a=3",
            vec![],
            vec![("PATH_INFO", s("/")), ("QUERY_STRING", s("a=1&b=2&a=3"))],
        ),
        (
            "/app/x/y/?enc=%2F%20+%26&u=%C3%A9",
            vec![],
            vec![
                ("PATH_INFO", s("/x/y/")),
                ("QUERY_STRING", s("enc=%2F%20+%26&u=%C3%A9")),
                ("REQUEST_URI", s("/app/x/y/?enc=%2F%20+%26&u=%C3%A9")),
            ],
        ),
        (
            "/app/h",
            vec![("X-Multi", "a".into()), ("X-Multi", "b".into())],
            vec![("HTTP_X_MULTI", s("a, b"))],
        ),
        (
            "/app/h",
            vec![("X-Big", big.clone())],
            vec![("HTTP_X_BIG", Some(big.clone()))],
        ),
        (
            "/app/h",
            vec![("x-lower-case", "v1".into()), ("X-Digits-123", "v2".into())],
            vec![
                ("HTTP_X_LOWER_CASE", s("v1")),
                ("HTTP_X_DIGITS_123", s("v2")),
            ],
        ),
        (
            "/app/h",
            vec![("X_Foo", "1".into()), ("X.Dot", "2".into())],
            vec![
                ("HTTP_X_FOO", None),
                ("HTTP_X_DOT", None),
                ("HTTP_X.DOT", None),
            ],
        ),
        (
            "/app/h",
            vec![
                ("Accept", "text/html".into()),
                ("User-Agent", "e2e/1.0".into()),
            ],
            vec![
                ("HTTP_ACCEPT", s("text/html")),
                ("HTTP_USER_AGENT", s("e2e/1.0")),
                ("REQUEST_METHOD", s("GET")),
                ("HTTPS", None),
            ],
        ),
    ];
    for (target, headers, expected) in cases {
        let mut req = Request::get(target);
        for (n, v) in &headers {
            req = req.header(n, v);
        }
        let echo = srv.echo(&req);
        let env = echo.environ();
        for (name, want) in expected {
            let got = env.get(name).cloned();
            let shown = |v: &Option<String>| {
                v.as_ref().map(|v| {
                    if v.len() > 80 {
                        format!("{}... ({} bytes)", &v[..80], v.len())
                    } else {
                        v.clone()
                    }
                })
            };
            assert!(
                got == want,
                "{target} {:?}: {name} = {:?}, want {:?}",
                headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
                shown(&got),
                shown(&want)
            );
        }
    }
}

#[test]
fn basic_auth_sets_remote_user_and_withholds_credentials() {
    let builder = TestServer::builder();
    htpasswd(&builder.root().join("htpasswd"), "alice", "s3cret");
    let srv = builder
        .app(Artifact::Echo)
        .config(
            "RustgiScriptAlias /app @APPS@/libecho.so\n\
             <Location /app/private>\n\
             \x20   AuthType Basic\n\
             \x20   AuthName \"rustgi e2e\"\n\
             \x20   AuthUserFile @ROOT@/htpasswd\n\
             \x20   Require valid-user\n\
             </Location>\n\
             <Location /app/private/pass>\n\
             \x20   RustgiPassAuthorization On\n\
             </Location>",
        )
        .start();
    let good = format!("Basic {}", base64(b"alice:s3cret"));
    let wrong = format!("Basic {}", base64(b"alice:nope"));

    let resp = srv.get("/app/private/x");
    assert_eq!(resp.status(), 401, "{}", resp.text());
    assert!(
        resp.header("WWW-Authenticate")
            .is_some_and(|v| v.starts_with("Basic")),
        "{:?}",
        resp.head.headers
    );
    let resp = srv.send(&Request::get("/app/private/x").header("Authorization", &wrong));
    assert_eq!(resp.status(), 401);

    let echo = srv.echo(&Request::get("/app/private/x").header("Authorization", &good));
    assert_eq!(echo.env("REMOTE_USER").as_deref(), Some("alice"));
    assert_eq!(echo.env("AUTH_TYPE").as_deref(), Some("Basic"));
    assert_eq!(echo.env("HTTP_AUTHORIZATION"), None);
    assert!(!echo.json.to_string().contains(&base64(b"alice:s3cret")));

    let echo = srv.echo(&Request::get("/app/private/pass/y").header("Authorization", &good));
    assert_eq!(echo.env("REMOTE_USER").as_deref(), Some("alice"));
    assert_eq!(
        echo.env("HTTP_AUTHORIZATION").as_deref(),
        Some(good.as_str())
    );

    let echo = srv.echo(&Request::get("/app/public"));
    assert_eq!(echo.env("REMOTE_USER"), None);
    assert_eq!(echo.env("AUTH_TYPE"), None);
}

#[test]
fn path_info_of_every_printable_ascii_character() {
    // Each byte, percent-encoded, comes back decoded in PATH_INFO (but `/`,
    // which Apache refuses encoded by default, and `?`/`#`, sent encoded).
    let srv = echo_server("");
    let chars: String = (0x20u8..0x7f)
        .map(char::from)
        .filter(|c| *c != '/')
        .collect();
    let echo = srv.echo(&Request::get(&format!("/app/{}", percent_encode(&chars))));
    assert_eq!(echo.str("path_info"), format!("/{chars}"));
    assert_eq!(echo.env("PATH_INFO"), Some(format!("/{chars}")));
}
