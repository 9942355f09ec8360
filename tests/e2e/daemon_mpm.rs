//! Each MPM serves a daemon-mode app under concurrency.

use crate::common;

use std::collections::BTreeSet;
use std::time::Instant;

use common::daemon::{Load, Outcome, daemon_children, heavy_lock, require_daemon};
use common::http::{self, Request};
use common::{Artifact, TestServer, pseudo_random, sha256_hex};
use rustgi::httpd_conf::Mpm;

const CLIENTS: usize = 8;
const REQUESTS: usize = 25;

fn job(addr: std::net::SocketAddr, client: usize, seq: usize) -> Outcome {
    if seq % 5 == 0 {
        return match http::send(addr, &Request::get("/hello")) {
            Ok(r) if r.status() == 200 && r.text() == "Hello, World!" => Outcome::Ok { pid: None },
            Ok(r) => Outcome::Failed {
                status: Some(r.status()),
                why: format!("/hello: {}", r.text()),
            },
            Err(e) => Outcome::Failed {
                status: None,
                why: format!("/hello: {e}"),
            },
        };
    }
    let len = (client * 7919 + seq * 104_729) % 70_000;
    let body = pseudo_random(len, (client * 1000 + seq) as u64);
    let target = format!("/echo/{client}/{seq}?n={len}");
    let resp = match http::send(addr, &Request::post(&target).body(body.clone())) {
        Ok(r) => r,
        Err(e) => {
            return Outcome::Failed {
                status: None,
                why: format!("{target}: {e}"),
            };
        }
    };
    let failed = |why: String| Outcome::Failed {
        status: Some(resp.status()),
        why: format!("{target}: {why}"),
    };
    if resp.status() != 200 {
        return failed(resp.text());
    }
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&resp.body) else {
        return failed(format!("not JSON: {}", resp.text()));
    };
    let sha = v["body_sha256"].as_str().unwrap_or("").to_ascii_lowercase();
    if v["body_len"].as_u64() != Some(len as u64) || sha != sha256_hex(&body) {
        return failed(format!("body_len {} sha256 {sha}", v["body_len"]));
    }
    if v["path_info"].as_str() != Some(&format!("/{client}/{seq}")) {
        return failed(format!("path_info {}", v["path_info"]));
    }
    let group = common::pairs(&v["environ"])
        .get("rustgi.process_group")
        .cloned();
    if group.as_deref() != Some("mpm") {
        return failed(format!("rustgi.process_group {group:?}"));
    }
    Outcome::Ok {
        pid: v["pid"].as_u64(),
    }
}

fn daemon_app_under_concurrency(mpm: Mpm) {
    require_daemon();
    let _heavy = heavy_lock();
    let srv = TestServer::builder()
        .mpm(mpm)
        .app(Artifact::Hello)
        .app(Artifact::Echo)
        .config(
            "RustgiDaemonProcess mpm processes=2 threads=4 home=@ROOT@\n\
             RustgiProcessGroup mpm\n\
             RustgiScriptAlias /hello @APPS@/libhello.so\n\
             RustgiScriptAlias /echo @APPS@/libecho.so",
        )
        .start();
    let addr = srv.addr();
    let started = Instant::now();
    let report = Load::start(CLIENTS, REQUESTS, move |c, i| job(addr, c, i)).join();
    eprintln!(
        "{mpm}: {} requests in {:?}, pids {:?}",
        report.total(),
        started.elapsed(),
        report.per_pid()
    );
    assert_eq!(report.total(), CLIENTS * REQUESTS);
    assert!(
        report.failures().is_empty(),
        "{mpm}: {} requests failed:\n{}",
        report.failures().len(),
        report.describe_failures(started)
    );
    let daemons: BTreeSet<u64> = daemon_children(srv.apache_pid())
        .into_iter()
        .map(u64::from)
        .collect();
    let served = report.pids();
    assert!(
        served.is_subset(&daemons),
        "{mpm}: served by {served:?}, the group's processes are {daemons:?}"
    );
    assert!(!served.contains(&u64::from(srv.apache_pid())));
    let log = srv.error_log();
    assert!(
        log.contains(&format!("[mpm_{}:", mpm.name())),
        "the error_log does not mention the {mpm} MPM:\n{log}"
    );
}

#[test]
fn event_mpm_serves_a_daemon_app() {
    daemon_app_under_concurrency(Mpm::Event);
}

#[test]
fn prefork_mpm_serves_a_daemon_app() {
    daemon_app_under_concurrency(Mpm::Prefork);
}

#[test]
fn worker_mpm_serves_a_daemon_app() {
    daemon_app_under_concurrency(Mpm::Worker);
}
