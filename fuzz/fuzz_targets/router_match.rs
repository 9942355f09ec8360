//! The router against arbitrary methods and paths: a router with every kind
//! of route (static, typed parameters, `:re:`, a custom filter, a raw regex
//! route, method sets) must answer every request without panicking, with a
//! status the request can explain: a route's, 404, 405 (with Allow) or 204
//! for OPTIONS.

#![no_main]

use std::sync::LazyLock;

use app_sdk::http::{Method, StatusCode};
use app_sdk::{Config, Environ, Request, RequestBody, Router};
use app_sdk::router::MethodSet;
use libfuzzer_sys::fuzz_target;

static ROUTER: LazyLock<Router> = LazyLock::new(|| {
    Router::new()
        .filter("email", r"[^/@]+@[^/@]+", |s: &str| Some(s.to_owned()))
        .get("/", |_: Request| "root")
        .get("/static/page", |_: Request| "static")
        .get("/int/<id:int>", |_: Request| "int")
        .get("/float/<x:float>", |_: Request| "float")
        .get("/word/<w:word>/hex/<h:hex>", |_: Request| "word-hex")
        .get("/uuid/<u:uuid>", |_: Request| "uuid")
        .get("/re/<r:re:[a-z]{2,4}>", |_: Request| "re")
        .get("/mail/<m:email>", |_: Request| "email")
        .route("/both/<any>", MethodSet::GET | MethodSet::POST, |_: Request| "both")
        .regex_route(r"^/raw/(?P<year>\d{4})/(\d+)$", MethodSet::GET, |_: Request| "raw")
});

fuzz_target!(|data: &[u8]| {
    // The first line is the method, the rest the path (bytes, maybe not UTF-8).
    let (method, path) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&b"GET"[..], data),
    };
    let method = String::from_utf8_lossy(method);
    let path = String::from_utf8_lossy(path);
    let environ: Environ = [
        ("REQUEST_METHOD", method.as_ref()),
        ("SCRIPT_NAME", ""),
        ("PATH_INFO", path.as_ref()),
        ("REQUEST_URI", "/"),
    ]
    .into_iter()
    .collect();
    let request = Request::new(environ, Config::new(), RequestBody::empty());
    let response = ROUTER.handle(request);
    let status = response.status();
    let known = [
        StatusCode::OK,
        StatusCode::NO_CONTENT,
        StatusCode::NOT_FOUND,
        StatusCode::METHOD_NOT_ALLOWED,
        StatusCode::BAD_REQUEST,
    ];
    assert!(known.contains(&status), "{method} {path:?} -> {status}");
    if status == StatusCode::METHOD_NOT_ALLOWED {
        assert!(response.headers().contains_key("allow"));
    }
    let _ = Method::from_bytes(method.as_bytes());
});
