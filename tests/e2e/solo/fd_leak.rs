//! No file descriptor leaks: 10,000 requests, half to the echo app embedded
//! in Apache's children and half to it in a daemon group, over concurrent
//! keep-alive connections; the number of descriptors each Apache child and
//! each daemon process holds (`/proc/PID/fd`) must not grow by more than a
//! small constant.

use crate::common;

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use common::daemon::{apache_children, daemon_children, require_daemon, skip};
use common::http::{self, Request};
use common::{Artifact, TestServer, running_as_root, sha256_hex};

/// Requests in all.
const REQUESTS: usize = 10_000;
/// Concurrent keep-alive clients.
const CLIENTS: usize = 8;
/// How much a process's descriptor count may grow (a lazily opened log or
/// pipe, say): a leak of one per request would be thousands.
const SLACK: usize = 8;

/// `pid` → number of open descriptors, for Apache's parent, children and
/// daemons.
fn fd_counts(apache: u32) -> BTreeMap<u32, (String, usize)> {
    let mut out = BTreeMap::new();
    let mut add = |pid: u32, what: &str| {
        if let Ok(dir) = fs::read_dir(format!("/proc/{pid}/fd")) {
            out.insert(pid, (what.to_owned(), dir.count()));
        }
    };
    add(apache, "parent");
    for pid in apache_children(apache) {
        add(pid, "child");
    }
    for pid in daemon_children(apache) {
        add(pid, "daemon");
    }
    out
}

/// Sends `n` requests on keep-alive connections (reconnecting when the
/// server closes one), alternating embedded and daemon, GETs and small
/// POSTs; checks every answer.
fn client(addr: SocketAddr, id: usize, n: usize) -> Result<(), String> {
    let host = addr.to_string();
    let mut conn: Option<(TcpStream, BufReader<TcpStream>)> = None;
    for i in 0..n {
        let prefix = if (id + i) % 2 == 0 { "/emb" } else { "/dmn" };
        let target = format!("{prefix}/c{id}/{i}");
        let body = format!("client {id} request {i}").into_bytes();
        let req = if i % 3 == 0 {
            Request::post(&target).body(body.clone())
        } else {
            Request::get(&target)
        }
        .header("Connection", "keep-alive");
        let (writer, reader) = match &mut conn {
            Some(c) => c,
            None => {
                let s = http::connect(addr).map_err(|e| format!("connect: {e}"))?;
                let r = BufReader::new(s.try_clone().map_err(|e| e.to_string())?);
                conn.insert((s, r))
            }
        };
        writer
            .write_all(&req.to_bytes(&host))
            .map_err(|e| format!("{target}: write: {e}"))?;
        let resp =
            http::read_response(reader, &req.method).map_err(|e| format!("{target}: read: {e}"))?;
        if resp.status() != 200 {
            return Err(format!("{target}: {} {}", resp.status(), resp.text()));
        }
        let v = resp.json();
        let want = if i % 3 == 0 {
            sha256_hex(&body)
        } else {
            sha256_hex(b"")
        };
        if v["body_sha256"].as_str() != Some(want.as_str()) {
            return Err(format!("{target}: wrong body checksum: {v}"));
        }
        if resp
            .header("Connection")
            .is_some_and(|c| c.eq_ignore_ascii_case("close"))
        {
            conn = None;
        }
    }
    Ok(())
}

#[test]
fn ten_thousand_requests_leak_no_descriptors() {
    require_daemon();
    if !running_as_root() {
        skip(
            "ten_thousand_requests_leak_no_descriptors",
            "reading /proc/PID/fd of Apache's children needs root",
        );
        return;
    }
    let srv = TestServer::builder()
        .app(Artifact::Echo)
        .log_level("warn")
        .config(
            "MaxKeepAliveRequests 0\n\
             RustgiDaemonProcess fd processes=2 threads=4 home=@ROOT@\n\
             RustgiScriptAlias /emb @APPS@/libecho.so\n\
             RustgiScriptAlias /dmn @APPS@/libecho.so process-group=fd",
        )
        .start();
    let addr = srv.addr();
    let apache = srv.apache_pid();

    // Warm up: every child loads the app, every daemon thread serves.
    let run = |per_client: usize| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|c| thread::spawn(move || client(addr, c, per_client)))
            .collect();
        for h in handles {
            h.join()
                .expect("a client thread panicked")
                .unwrap_or_else(|e| panic!("{e}\nerror_log:\n{}", srv.error_log()));
        }
    };
    run(50);
    // Let idle keep-alive connections of the warm-up close.
    thread::sleep(Duration::from_millis(200));
    let before = fd_counts(apache);

    let started = Instant::now();
    run(REQUESTS / CLIENTS);
    let took = started.elapsed();
    let after = fd_counts(apache);
    eprintln!("{REQUESTS} requests in {took:?}; descriptors before {before:?}, after {after:?}");

    let daemons = after.values().filter(|(w, _)| w == "daemon").count();
    assert_eq!(daemons, 2, "processes=2: {after:?}");
    let most_before = |what: &str| {
        before
            .values()
            .filter(|(w, _)| w == what)
            .map(|(_, n)| *n)
            .max()
    };
    for (pid, (what, n)) in &after {
        // A process there before must not have grown; a new one (an Apache
        // child started under load) must not hold more than its kind did.
        let base = match before.get(pid) {
            Some((_, b)) => *b,
            None => most_before(what).unwrap_or_else(|| {
                panic!("no {what} process before the load to compare {pid} with")
            }),
        };
        assert!(
            *n <= base + SLACK,
            "{what} {pid} holds {n} descriptors after {REQUESTS} requests, {base} before"
        );
    }
}
