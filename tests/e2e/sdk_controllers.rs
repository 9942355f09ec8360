//! `examples/controllers` (15Watt_Wsgi's style: controllers, a TOML config
//! file, typed route parameters) through the real Apache, deployed in a
//! daemon process group: once configured by `RustgiAppConfig` alone, once
//! with its config file deployed beside it.

use crate::common;

use std::time::Duration;

use common::daemon::require_daemon;
use common::http::Request;
use common::{Artifact, Response, TestServer};

/// The config file as committed.
fn controllers_toml() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/controllers/controllers.toml"
    );
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Apache with the controllers app mounted at `/` in the daemon group
/// `controllers`, with `config` (RustgiAppConfig lines) added.
fn controllers_server(builder: common::TestServerBuilder, config: &str) -> TestServer {
    require_daemon();
    let srv = builder
        .app(Artifact::Controllers)
        .config(
            "RustgiDaemonProcess controllers processes=1 threads=4 home=@ROOT@\n\
             RustgiProcessGroup controllers\n\
             RustgiScriptAlias / @APPS@/libcontrollers.so process-group=controllers",
        )
        .config(config)
        .start();
    // The app runs in the group's process.
    srv.wait_for_log_line(
        &["group controllers: process", "ready"],
        Duration::from_secs(10),
    );
    srv
}

#[track_caller]
fn assert_answer(resp: &Response, status: u16, body: &str, what: &str) {
    assert_eq!(
        (resp.status(), resp.text().as_str()),
        (status, body),
        "{what}: {:?}",
        resp.head.headers
    );
    // Every answer, errors included, carries 15Watt's header.
    assert_eq!(
        resp.header("X-Framework"),
        Some("mod_rustgi app-sdk (controllers example)"),
        "{what}: {:?}",
        resp.head.headers
    );
}

#[test]
fn with_params_in_a_daemon_group() {
    let srv = controllers_server(TestServer::builder(), "RustgiAppConfig confVar2 42");

    let resp = srv.get("/with/params/42/machWas");
    assert_answer(
        &resp,
        200,
        "Hello World, id = 42 what = \"machWas\"",
        "id 42",
    );
    assert_eq!(
        resp.header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );
    let resp = srv.get("/with/params/-7/etwas%20anderes");
    assert_answer(
        &resp,
        200,
        "Hello World, id = -7 what = \"etwas anderes\"",
        "id -7",
    );

    // id must be an int.
    for path in ["/with/params/x/machWas", "/with/params/4.2/machWas"] {
        let resp = srv.get(path);
        let body = format!("No controller method found for route: GET_{path}\n");
        assert_answer(&resp, 404, &body, path);
    }
    // An int too large for an i64 matches the filter but not the handler.
    let path = "/with/params/99999999999999999999/x";
    assert_answer(
        &srv.get(path),
        404,
        &format!("No controller method found for route: GET_{path}\n"),
        path,
    );

    let resp = srv.send(&Request::post("/with/params/42/machWas").body(""));
    assert_eq!(resp.status(), 405, "{}", resp.text());
    assert_eq!(resp.header("Allow"), Some("GET, HEAD, OPTIONS"));

    assert_answer(&srv.get("/"), 200, "Hello World", "GET /");
    assert_answer(
        &srv.get("/conf"),
        200,
        "key1 = , confVar2 = 42",
        "GET /conf",
    );
    // No config file: no pages.
    assert_answer(
        &srv.get("/pages/about"),
        404,
        "Not found: /pages/about\n",
        "GET /pages/about",
    );
}

#[test]
fn with_its_config_file() {
    let mut builder = TestServer::builder();
    builder.add_file("conf/controllers.toml", controllers_toml());
    let srv = controllers_server(
        builder,
        "RustgiAppConfig config_file @ROOT@/conf/controllers.toml\n\
         RustgiAppConfig key1 FromApache",
    );

    // The file's values, typed, and RustgiAppConfig over the file.
    assert_answer(
        &srv.get("/conf"),
        200,
        "key1 = FromApache, confVar2 = 42",
        "GET /conf",
    );
    assert_answer(
        &srv.get("/with/params/42/machWas"),
        200,
        "Hello World, id = 42 what = \"machWas\"",
        "id 42",
    );
    assert_answer(
        &srv.get("/pages/about"),
        200,
        "We write web apps in Rust and run them under Apache httpd.",
        "GET /pages/about",
    );
    assert_answer(
        &srv.get("/pages/contact"),
        200,
        "Write to webmaster@example.org.",
        "GET /pages/contact",
    );
    assert_answer(
        &srv.get("/pages/nope"),
        404,
        "Not found: /pages/nope\n",
        "GET /pages/nope",
    );

    // One controller per process, made once: its counter goes on.
    let first: u64 = srv.get("/hits").text().parse().expect("a count");
    let second: u64 = srv.get("/hits").text().parse().expect("a count");
    assert_eq!(second, first + 1);
    // debug = false in the file: no /debug-info.
    assert_eq!(srv.get("/debug-info").status(), 404);
}
