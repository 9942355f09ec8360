//! Hostile requests over raw TCP, against the echo app embedded and in a
//! daemon group: malformed chunked framing, truncated bodies, NUL and
//! invalid UTF-8 in the path, query and headers, oversized request lines
//! and headers, bodies over LimitRequestBody, slow clients cut off by
//! mod_reqtimeout, and request smuggling (Content-Length with
//! Transfer-Encoding, duplicate Content-Length). Each gets a 4xx or a clean
//! close (or, if it is odd but valid HTTP, a correct answer from the app),
//! never a 5xx; no Apache child crashes and no daemon process dies.
//!
//! The app-level cases go to `examples/simple` (embedded and in the same
//! daemon group): malformed and oversized multipart and urlencoded forms,
//! invalid and deeply nested JSON, forged and garbage session cookies. Each
//! gets exactly the answer app-sdk documents (400, 413, 415, or the
//! redirect to the login page), never a 5xx.
//!
//! The Python cases go to a PoorWSGI app (from PyPI, in the test venv) in a
//! daemon group of its own: malformed forms, uploads and JSON, odd cookies
//! and `Content-Type` parameters, and all the protocol-level cases. Each
//! gets PoorWSGI's answer (its 400 page, or what its lenient parsers made
//! of the input), never a 5xx, and its daemon process does not die.
//!
//! The list lives in `chaos/src/hostile.rs`, shared with
//! `rustgi-chaos --hostile`, which publishes the counts in RELIABILITY.md.

use crate::common;

use rustgi_chaos::{hostile, logs};

use std::collections::BTreeSet;
use std::fs;
use std::thread;
use std::time::{Duration, Instant};

use common::daemon::require_daemon;
use common::{Artifact, TestServer};

#[test]
fn hostile_requests_get_4xx_or_a_clean_close_never_5xx() {
    require_daemon();
    // The test venv holds what the Python group needs.
    for package in hostile::PYTHON_PACKAGES {
        assert!(
            common::python::PACKAGES.contains(package),
            "the test venv lacks {package}"
        );
    }
    let venv = common::python::venv();
    let mut builder = TestServer::builder()
        .modules_copied()
        .app(Artifact::Echo)
        .app(Artifact::Simple);
    builder.add_file(
        &format!("apps/{}", hostile::POORWSGI_APP_NAME),
        hostile::POORWSGI_APP,
    );
    for m in hostile::MODULES {
        builder = builder.module(m);
    }
    let srv = builder
        .config(&hostile::server_config(&venv.display().to_string()))
        .start();
    let addr = srv.addr();
    // The apps answer in every mode before the hostile requests start.
    for prefix in [hostile::EMBEDDED, hostile::DAEMON, hostile::PY_DAEMON] {
        let resp = srv.get(&format!("{prefix}/ready"));
        assert_eq!(
            resp.status(),
            200,
            "{prefix}: {}\n{}",
            resp.text(),
            srv.error_log()
        );
    }
    for prefix in [hostile::SIMPLE_EMBEDDED, hostile::SIMPLE_DAEMON] {
        let resp = srv.get(&format!("{prefix}/"));
        assert_eq!(resp.status(), 200, "{prefix}/: {}", resp.text());
    }

    let started = Instant::now();
    let cases = hostile::all_cases(&addr.to_string());
    let tried = cases.len();
    let outcomes = hostile::run_all(addr, cases, 8);
    let took = started.elapsed();
    eprintln!(
        "{} hostile requests in {took:?}:\n{}",
        outcomes.len(),
        hostile::describe_all(&outcomes)
    );
    assert_eq!(outcomes.len(), tried);
    let failures = hostile::describe_failures(&outcomes);
    assert!(
        failures.is_empty(),
        "hostile requests that did not get what they must:\n{failures}"
    );
    let (per, all) = hostile::counts(&outcomes);
    assert_eq!(all.server_errors, 0);
    // The Python group got its share, and none of it was a 5xx.
    let python: Vec<&hostile::Outcome> = outcomes
        .iter()
        .filter(|o| o.case.id.starts_with("pdmn/"))
        .collect();
    assert!(python.len() > 100, "{} Python cases", python.len());
    for category in [
        hostile::Category::PyForms,
        hostile::Category::PyJson,
        hostile::Category::PyHeaders,
    ] {
        let c = &per[&category];
        assert!(c.tried > 0, "{category:?}");
        assert_eq!((c.server_errors, c.failed), (0, 0), "{category:?}");
    }

    // Nothing crashed and nothing answered 5xx, not even to the clients
    // that hung up (they are judged by the logs).
    thread::sleep(Duration::from_millis(500));
    let log = srv.error_log();
    let crashes = logs::child_crashes(&log, &BTreeSet::new());
    assert!(crashes.is_empty(), "Apache children crashed:\n{crashes:#?}");
    let deaths = logs::daemon_deaths(&log, 0);
    assert!(deaths.is_empty(), "daemon processes died: {deaths:#?}");
    let access = fs::read_to_string(srv.root().join("access_log")).unwrap_or_default();
    let errors = logs::server_errors(&access);
    assert!(errors.is_empty(), "5xx in the access_log:\n{errors:#?}");
    // The server still serves, every app in every mode.
    for prefix in [hostile::EMBEDDED, hostile::DAEMON, hostile::PY_DAEMON] {
        let resp = srv.get(&format!("{prefix}/after"));
        assert_eq!(resp.status(), 200, "{prefix} after: {}", resp.text());
    }
    for prefix in [hostile::SIMPLE_EMBEDDED, hostile::SIMPLE_DAEMON] {
        let resp = srv.get(&format!("{prefix}/"));
        assert_eq!(resp.status(), 200, "{prefix}/ after: {}", resp.text());
    }
}

/// With `LimitRequestFieldSize` raised, a request head can outgrow the
/// daemon protocol's 1 MiB REQUEST frame: the client gets 431, as it would
/// for a head over Apache's own limits, not a 500.
#[test]
fn a_request_head_over_the_protocol_limit_is_a_4xx_in_daemon_mode() {
    require_daemon();
    let srv = TestServer::builder()
        .app(Artifact::Echo)
        .config(
            "LimitRequestFieldSize 100000\n\
             RustgiDaemonProcess big processes=1 threads=2 home=@ROOT@\n\
             RustgiScriptAlias /emb @APPS@/libecho.so\n\
             RustgiScriptAlias /dmn @APPS@/libecho.so process-group=big",
        )
        .start();
    let value = "f".repeat(60_000);
    for (prefix, ok) in [("/emb", true), ("/dmn", false)] {
        let mut req = common::http::Request::get(&format!("{prefix}/big"));
        for i in 0..20 {
            req = req.header(&format!("X-F{i}"), &value);
        }
        let resp = srv.send(&req);
        if ok {
            // Embedded, the app gets the 1.2 MB of headers.
            assert_eq!(resp.status(), 200, "{prefix}: {}", resp.text());
        } else {
            assert!(
                (400..500).contains(&resp.status()),
                "{prefix}: a 1.2 MB request head got {} (want a 4xx, e.g. 431)",
                resp.status()
            );
        }
    }
}
