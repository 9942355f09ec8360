//! The app's routes, answered by its router without Apache (the
//! end-to-end tests, `tests/e2e/sdk_simple.rs`, run it in a daemon group).

use app_sdk::http::HeaderMap;
use app_sdk::http::header::{ALLOW, CONTENT_TYPE, ETAG, LOCATION, SET_COOKIE};
use app_sdk::{Environ, RequestBody};

use super::*;

const SECRET: &str = "0123456789abcdef0123456789abcdef (tests)";

/// The app as `export_router!` builds it: with its configuration, which
/// turns debug mode on.
fn router() -> Router<Simple> {
    let config = Config::from_iter([("secret_key", SECRET), ("debug", "on")]);
    app(&config).unwrap().with_config(config)
}

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: String,
}

/// Sends `method path` with the CGI variables `env` and `body`.
fn send(
    router: &Router<Simple>,
    method: &str,
    path: &str,
    env: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    let mut environ = Environ::from_iter([
        ("REQUEST_METHOD", method),
        ("SCRIPT_NAME", ""),
        ("PATH_INFO", path),
        ("REQUEST_URI", path),
    ]);
    for (name, value) in env {
        environ.push(*name, *value);
    }
    let req = Request::new(
        environ,
        Config::new(),
        RequestBody::from_bytes(body.to_vec()),
    );
    let res = router.handle(req);
    let status = res.status().as_u16();
    let (parts, body) = res.into_parts();
    Answer {
        status,
        headers: parts.headers,
        body: String::from_utf8(body.into_vec().unwrap()).unwrap(),
    }
}

fn get(router: &Router<Simple>, path: &str) -> Answer {
    send(router, "GET", path, &[], b"")
}

#[test]
fn typed_variables() {
    let router = router();
    for (path, ty, value) in [
        ("/test/42", "i64", "42"),
        ("/test/-7", "i64", "-7"),
        ("/test/3.14", "f64", "3.14"),
        ("/test/Ann.Lee@Example.NET", "String", "Ann.Lee@example.net"),
        (
            "/test/123E4567-E89B-12D3-A456-426655440000",
            "String",
            "123e4567-e89b-12d3-a456-426655440000",
        ),
        ("/test/word", "String", "word"),
    ] {
        let answer = get(&router, path);
        assert_eq!(answer.status, 200, "{path}");
        let row = |k: &str, v: &str| format!("<tr><td>{k}</td><td>{v}</td></tr>");
        assert!(
            answer.body.contains(&row("type", ty)),
            "{path}: {}",
            answer.body
        );
        assert!(
            answer.body.contains(&row("value", value)),
            "{path}: {}",
            answer.body
        );

        let put = send(&router, "PUT", path, &[], b"");
        assert_eq!(put.status, 405, "PUT {path}");
        assert_eq!(put.headers[ALLOW], "GET, HEAD, OPTIONS", "PUT {path}");
    }
    let answer = get(&router, "/test/one/two/three");
    assert!(
        answer.body.contains("<tr><td>v2</td><td>three</td></tr>"),
        "{}",
        answer.body
    );
    assert_eq!(get(&router, "/test/a@b@c").status, 404);
}

#[test]
fn static_page_and_its_etag() {
    let router = router();
    let first = get(&router, "/test/static");
    assert_eq!(first.status, 200);
    let etag = first.headers[ETAG].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.len() == 18, "{etag}");
    assert_eq!(get(&router, "/test/static").headers[ETAG], etag.as_str());
    let again = send(
        &router,
        "GET",
        "/test/static",
        &[("HTTP_IF_NONE_MATCH", &etag)],
        b"",
    );
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    let other = send(
        &router,
        "GET",
        "/test/static",
        &[("HTTP_IF_NONE_MATCH", "\"x\"")],
        b"",
    );
    assert_eq!(other.status, 200);
}

#[test]
fn error_routes() {
    let router = router();
    let answer = get(&router, "/bad-request");
    assert_eq!(answer.status, 400);
    assert!(
        answer
            .body
            .contains("value error: ValueError exception test."),
        "{}",
        answer.body
    );
    assert_eq!(get(&router, "/forbidden").status, 403);
    assert_eq!(get(&router, "/not-implemented").status, 501);
    assert_eq!(get(&router, "/none").status, 204);
    let answer = get(&router, "/internal-server-error");
    assert_eq!(answer.status, 500);
    // Debug mode shows the error.
    assert!(
        answer.body.contains("Test of internal server error"),
        "{}",
        answer.body
    );
    let put = send(&router, "PUT", "/internal-server-error", &[], b"");
    assert_eq!(
        (put.status, put.headers[ALLOW].to_str().unwrap()),
        (405, "GET, HEAD, OPTIONS")
    );

    let answer = get(&router, "/no-page/<x>");
    assert_eq!(answer.status, 404);
    assert!(
        answer
            .body
            .contains("<title>Simple - 404 - Page Not Found</title>"),
        "{}",
        answer.body
    );
    assert!(
        answer
            .body
            .contains("<code>/no-page/&lt;x&gt;</code> was not found"),
        "{}",
        answer.body
    );
}

#[test]
fn login_session() {
    let router = router();
    let form = [("CONTENT_TYPE", "application/x-www-form-urlencoded")];
    let wrong = send(&router, "POST", "/login", &form, b"passwd=guess");
    assert_eq!(wrong.status, 403);
    assert!(wrong.body.contains("Bad password"));
    assert!(!wrong.headers.contains_key(SET_COOKIE));

    let ok = send(&router, "POST", "/login", &form, b"passwd=SecretPasswds");
    assert_eq!(ok.status, 303);
    assert_eq!(ok.headers[LOCATION], "/private");
    let set_cookie = ok.headers[SET_COOKIE].to_str().unwrap();
    assert!(
        set_cookie.ends_with("; Path=/; Max-Age=86400; HttpOnly; SameSite=Lax"),
        "{set_cookie}"
    );
    let cookie = set_cookie.split(';').next().unwrap();

    let private = send(&router, "GET", "/private", &[("HTTP_COOKIE", cookie)], b"");
    assert_eq!(private.status, 200);
    assert!(private.body.contains("Some private data."));

    let tampered = cookie.replacen("s1.", "s1.A", 1);
    for cookie in ["", "session=garbage", tampered.as_str()] {
        let answer = send(&router, "GET", "/private", &[("HTTP_COOKIE", cookie)], b"");
        assert_eq!(answer.status, 302, "{cookie}");
        assert_eq!(answer.headers[LOCATION], "/login", "{cookie}");
    }

    let out = get(&router, "/logout");
    assert_eq!(out.status, 302);
    assert!(
        out.headers[SET_COOKIE]
            .to_str()
            .unwrap()
            .starts_with("session=; Path=/; Max-Age=0")
    );
    // A form that does not parse answers as FormError does, through AnyError.
    let bad = send(
        &router,
        "POST",
        "/login",
        &[("CONTENT_TYPE", "text/plain")],
        b"passwd",
    );
    assert_eq!(bad.status, 415);
}

#[test]
fn forms_uploads_and_json() {
    let router = router();
    let answer = send(
        &router,
        "POST",
        "/test/form",
        &[
            ("CONTENT_TYPE", "application/x-www-form-urlencoded"),
            ("QUERY_STRING", "gx=1&gx=2"),
        ],
        "pname=Ond%C5%99ej&px=8&px=7&px=6".as_bytes(),
    );
    assert_eq!(answer.status, 200);
    assert!(
        answer
            .body
            .contains("<tr><td>pname</td><td>Ondřej</td></tr>"),
        "{}",
        answer.body
    );
    assert!(
        answer.body.contains("<tr><td>px</td><td>8, 7, 6</td></tr>"),
        "{}",
        answer.body
    );
    assert!(
        answer.body.contains("<tr><td>gx</td><td>1, 2</td></tr>"),
        "{}",
        answer.body
    );
    assert_eq!(get(&router, "/test/form").status, 200);

    let multipart = [("CONTENT_TYPE", "multipart/form-data; boundary=XyZ")];
    let body = "--XyZ\r\nContent-Disposition: form-data; name=\"file_0\"; filename=\"../a.txt\"\r\n\
                Content-Type: text/plain\r\n\r\nhello\r\n\
                --XyZ\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi\r\n--XyZ--\r\n";
    let answer = send(&router, "POST", "/test/upload", &multipart, body.as_bytes());
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (200, "file_0: a.txt (text/plain), 5 bytes\n")
    );
    let cut = &body[..body.len() - 12];
    assert_eq!(
        send(&router, "POST", "/test/upload", &multipart, cut.as_bytes()).status,
        400
    );

    let json = [("CONTENT_TYPE", "application/json")];
    let answer = send(
        &router,
        "POST",
        "/test/json",
        &json,
        br#"{"a": [1, 2.5, "x"], "b": null}"#,
    );
    assert_eq!(answer.status, 200);
    assert_eq!(answer.headers[CONTENT_TYPE], "application/json");
    assert_eq!(answer.body, r#"{"a":[1,2.5,"x"],"b":null}"#);
    assert_eq!(
        send(&router, "POST", "/test/json", &json, b"{\"a\": ").status,
        400
    );
}

#[test]
fn streams_and_files() {
    let router = router();
    let answer = get(&router, "/yield");
    let expected: String = (0..10).map(|i| format!("line {i}\n")).collect();
    assert_eq!((answer.status, answer.body), (200, expected));
    let answer = send(&router, "POST", "/yield", &[], b"01234");
    assert_eq!(answer.body, "received 5 bytes\n");

    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/static/simple.txt")).unwrap();
    let answer = send(
        &router,
        "GET",
        "/simple",
        &[("HTTP_RANGE", "bytes=0-5")],
        b"",
    );
    assert_eq!((answer.status, answer.body.as_str()), (206, &text[..6]));
    assert_eq!(
        answer.headers["content-range"],
        format!("bytes 0-5/{}", text.len()).as_str()
    );
}

#[test]
fn configuration() {
    assert_eq!(email("Ann@Example.ORG").as_deref(), Some("Ann@example.org"));
    let err = app(&Config::new()).unwrap_err();
    assert!(err.message().contains("secret_key"), "{err}");
    let err = app(&Config::from_iter([
        ("secret_key", SECRET),
        ("static_dir", "/nonexistent"),
    ]))
    .unwrap_err();
    assert!(err.message().contains("static_dir"), "{err}");
    // Without debug, no /debug-info; with it, the secret is masked.
    let config = Config::from_iter([("secret_key", SECRET)]);
    let quiet = app(&config).unwrap().with_config(config);
    assert_eq!(get(&quiet, "/debug-info").status, 404);
    let answer = get(&router(), "/debug-info");
    assert_eq!(answer.status, 200);
    assert!(!answer.body.contains(SECRET));
}
