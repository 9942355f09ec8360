//! Apps that fail or log: panics, init failures, log levels.

use crate::common;

use std::time::Duration;

use common::{Artifact, Request, TestServer};

const LOG_WAIT: Duration = Duration::from_secs(5);

fn token(what: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("e2e-{what}-{}-{nanos}", std::process::id())
}

#[test]
fn a_panic_is_a_500_and_the_server_goes_on() {
    let srv = TestServer::builder()
        .app(Artifact::Echo)
        .config("RustgiScriptAlias /app @APPS@/libecho.so")
        .start();
    let resp = srv.get("/app?panic=1");
    assert_eq!(resp.status(), 500, "{}", resp.text());
    srv.wait_for_log("echo panicked on purpose", LOG_WAIT);
    let resp = srv.get("/app/after");
    assert_eq!(resp.status(), 200, "{}", resp.text());

    // Again, more often than there are threads in a child: each panic is
    // caught in the thread that ran the app, which then serves on.
    for _ in 0..20 {
        assert_eq!(srv.get("/app?panic=1").status(), 500);
    }
    for i in 0..20 {
        let echo = srv.echo(&Request::get(&format!("/app/ok/{i}")));
        assert_eq!(echo.str("path_info"), format!("/ok/{i}"));
    }
    let panics = srv.error_log().matches("echo panicked on purpose").count();
    assert!(panics >= 21, "{panics} panic lines in error_log");
}

#[test]
fn app_log_lines_reach_error_log_at_their_level() {
    let srv = TestServer::builder()
        .app(Artifact::Echo)
        .config("RustgiScriptAlias /app @APPS@/libecho.so")
        .start();
    for level in ["error", "warn", "info", "debug"] {
        let msg = token(level);
        let resp = srv.get(&format!("/app?log={level}&msg={msg}"));
        assert_eq!(resp.status(), 200, "{}", resp.text());
        let tag = format!("rustgi:{level}");
        srv.wait_for_log_line(&[&msg, &tag], LOG_WAIT);
    }
}

#[test]
fn log_level_filters_app_log_lines() {
    let srv = TestServer::builder()
        .app(Artifact::Echo)
        .log_level("info rustgi:warn")
        .config("RustgiScriptAlias /app @APPS@/libecho.so")
        .start();
    let quiet = token("info-filtered");
    let loud = token("warn-shown");
    assert_eq!(srv.get(&format!("/app?log=info&msg={quiet}")).status(), 200);
    assert_eq!(srv.get(&format!("/app?log=warn&msg={loud}")).status(), 200);
    srv.wait_for_log_line(&[&loud, "rustgi:warn"], LOG_WAIT);
    let log = srv.error_log();
    assert!(
        !log.contains(&quiet),
        "an info line got through `LogLevel rustgi:warn`:\n{log}"
    );
}

#[test]
fn failed_init_gives_500_and_logs_why() {
    let msg = token("init-failed-on-purpose");
    let srv = TestServer::builder()
        .app(Artifact::Echo)
        .config(&format!(
            "RustgiAppConfig fail_init \"{msg} with spaces\"\n\
             RustgiScriptAlias /app @APPS@/libecho.so"
        ))
        .start();
    let resp = srv.get("/app/x");
    assert_eq!(resp.status(), 500, "{}", resp.text());
    srv.wait_for_log(&format!("{msg} with spaces"), LOG_WAIT);
    // It keeps failing rather than serving a half-made app.
    assert_eq!(srv.get("/app/y").status(), 500);
    assert!(!srv.get("/app/z").text().contains("init_config"));
}
