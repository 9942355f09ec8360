//! Each MPM serves the apps under concurrency.

use crate::common;

use std::collections::BTreeSet;
use std::sync::Mutex;

use common::{Artifact, Request, TestServer, pseudo_random, running_as_root, sha256_hex};
use rustgi::httpd_conf::Mpm;

const THREADS: usize = 8;
const REQUESTS: usize = 25;

fn serves_under_concurrency(mpm: Mpm) {
    let srv = TestServer::builder()
        .mpm(mpm)
        .app(Artifact::Hello)
        .app(Artifact::Echo)
        .config(
            "RustgiScriptAlias /hello @APPS@/libhello.so\n\
             RustgiScriptAlias /echo @APPS@/libecho.so",
        )
        .start();
    let pids = Mutex::new(BTreeSet::new());
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let srv = &srv;
            let pids = &pids;
            scope.spawn(move || {
                for i in 0..REQUESTS {
                    if i % 3 == 0 {
                        let resp = srv.get("/hello");
                        assert_eq!(resp.status(), 200, "{mpm} t{t} i{i}");
                        assert_eq!(resp.text(), "Hello, World!", "{mpm} t{t} i{i}");
                        continue;
                    }
                    let len = (t * 7919 + i * 104_729) % 70_000;
                    let body = pseudo_random(len, (t * 1000 + i) as u64);
                    let target = format!("/echo/{t}/{i}?n={len}");
                    let echo = srv.echo(&Request::post(&target).body(body.clone()));
                    assert_eq!(echo.num("body_len"), len as u64, "{mpm} {target}");
                    assert_eq!(
                        echo.str("body_sha256").to_ascii_lowercase(),
                        sha256_hex(&body),
                        "{mpm} {target}"
                    );
                    assert_eq!(echo.str("path_info"), format!("/{t}/{i}"));
                    assert_eq!(echo.str("query_string"), format!("n={len}"));
                    if running_as_root() {
                        assert_eq!(echo.num("uid"), 65534, "children run as nobody");
                    }
                    pids.lock().unwrap().insert(echo.num("pid"));
                }
            });
        }
    });
    let pids = pids.into_inner().unwrap();
    assert!(!pids.contains(&u64::from(srv.apache_pid())));
    if mpm == Mpm::Prefork {
        // One connection at a time per process: concurrency takes several.
        assert!(pids.len() >= 2, "prefork served from {pids:?}");
    }
    let log = srv.error_log();
    assert!(
        log.contains(&format!("[mpm_{}:", mpm.name())),
        "the error_log does not mention the {mpm} MPM:\n{log}"
    );
}

#[test]
fn event_mpm() {
    serves_under_concurrency(Mpm::Event);
}

#[test]
fn worker_mpm() {
    serves_under_concurrency(Mpm::Worker);
}

#[test]
fn prefork_mpm() {
    serves_under_concurrency(Mpm::Prefork);
}
