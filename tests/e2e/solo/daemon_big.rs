//! A 1 GiB upload and a 1 GiB download through a daemon group: the bytes
//! arrive whole, and neither the daemon process nor the Apache child holds
//! the body in memory.

use crate::common;

use std::collections::BTreeMap;
use std::io::{BufReader, Read, Write};
use std::time::Instant;

use common::daemon::{apache_children, json_pid, require_daemon, status_bytes};
use common::http::{self, BodyReader, Request};
use common::{Artifact, TestServer};
use sha2::{Digest, Sha256};

const GIB: u64 = 1 << 30;
/// The most a process may grow while moving 1 GiB.
const MAX_GROWTH: u64 = 64 << 20;
const CHUNK: usize = 256 * 1024;

/// Fills `buf` with pseudo-random bytes from the xorshift64* state `x`.
fn fill(buf: &mut [u8], x: &mut u64) {
    for word in buf.chunks_mut(8) {
        *x ^= *x >> 12;
        *x ^= *x << 25;
        *x ^= *x >> 27;
        let v = x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
        word.copy_from_slice(&v[..word.len()]);
    }
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// RSS now of each pid, in bytes.
fn rss_of(pids: &[u32]) -> BTreeMap<u32, u64> {
    pids.iter()
        .filter_map(|&p| Some((p, status_bytes(p, "VmRSS")?)))
        .collect()
}

#[test]
fn one_gib_up_and_down_through_a_daemon_in_constant_memory() {
    require_daemon();
    let srv = TestServer::builder()
        .app(Artifact::Faults)
        .config(
            "LimitRequestBody 0\n\
             RustgiDaemonProcess big processes=1 threads=2 home=@ROOT@\n\
             RustgiScriptAlias /big @APPS@/libfaults.so process-group=big",
        )
        .start();
    let started = Instant::now();
    // Warm up the daemon and the children (both paths) before measuring.
    let resp = srv.get("/big/pid");
    assert_eq!(resp.status(), 200, "{}", resp.text());
    let daemon = u32::try_from(json_pid(&resp).expect("pid")).unwrap();
    let resp = srv.send(&Request::post("/big/upload").body(vec![7u8; 1 << 20]));
    assert_eq!(resp.status(), 200, "{}", resp.text());
    assert_eq!(srv.get("/big/stream?mb=1").body.len(), 1 << 20);

    let daemon_before = status_bytes(daemon, "VmRSS").expect("daemon VmRSS");
    let children = apache_children(srv.apache_pid());
    assert!(!children.is_empty(), "no Apache children found");
    let children_before = rss_of(&children);

    // Upload: generated, sent and hashed a chunk at a time.
    let up_started = Instant::now();
    let mut stream = http::connect(srv.addr()).expect("connect");
    let head = format!(
        "PUT /big/upload HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {GIB}\r\n\r\n",
        srv.addr()
    );
    stream.write_all(head.as_bytes()).expect("send the head");
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut state = 0x1234_5678_9abc_def1u64;
    let mut sent = 0u64;
    while sent < GIB {
        fill(&mut buf, &mut state);
        hasher.update(&buf);
        stream.write_all(&buf).unwrap_or_else(|e| {
            panic!(
                "sending the upload, at {sent} bytes: {e}\nerror_log:\n{}",
                srv.error_log()
            )
        });
        sent += CHUNK as u64;
    }
    let want = hex(&hasher.finalize());
    let resp = http::read_response(&mut BufReader::new(stream), "PUT")
        .unwrap_or_else(|e| panic!("the upload's answer: {e}\nerror_log:\n{}", srv.error_log()));
    let up_took = up_started.elapsed();
    assert_eq!(resp.status(), 200, "{}", resp.text());
    let v = resp.json();
    assert_eq!(v["len"].as_u64(), Some(GIB), "{v}");
    assert_eq!(v["sha256"].as_str(), Some(want.as_str()), "{v}");

    // Download: read and checked a chunk at a time.
    let down_started = Instant::now();
    let mut resp = srv.open(&Request::get("/big/stream?mb=1024"));
    assert_eq!(resp.head.status, 200, "{:?}", resp.head);
    let mut got = 0u64;
    let body: &mut BodyReader<_> = &mut resp.body;
    loop {
        let n = body.read(&mut buf).unwrap_or_else(|e| {
            panic!(
                "reading the download at {got} bytes: {e}\nerror_log:\n{}",
                srv.error_log()
            )
        });
        if n == 0 {
            break;
        }
        assert!(
            buf[..n].iter().all(|b| *b == b'x'),
            "a byte other than x near offset {got}"
        );
        got += n as u64;
    }
    let down_took = down_started.elapsed();
    assert_eq!(got, GIB, "the download's length");

    // Memory: the peak (VmHWM) of each process against its RSS before.
    let mut report = Vec::new();
    let daemon_peak = status_bytes(daemon, "VmHWM").expect("daemon VmHWM");
    let daemon_growth = daemon_peak.saturating_sub(daemon_before);
    report.push(format!(
        "daemon {daemon}: VmRSS before {} MiB, VmHWM after {} MiB",
        daemon_before >> 20,
        daemon_peak >> 20
    ));
    let mut worst_child = 0;
    for (&pid, &before) in &children_before {
        let Some(peak) = status_bytes(pid, "VmHWM") else {
            continue;
        };
        worst_child = worst_child.max(peak.saturating_sub(before));
        report.push(format!(
            "Apache child {pid}: VmRSS before {} MiB, VmHWM after {} MiB",
            before >> 20,
            peak >> 20
        ));
    }
    for pid in apache_children(srv.apache_pid()) {
        if !children_before.contains_key(&pid) {
            report.push(format!(
                "Apache child {pid} (started during the test): VmHWM {} MiB",
                status_bytes(pid, "VmHWM").unwrap_or(0) >> 20
            ));
        }
    }
    let report = report.join("\n");
    eprintln!(
        "1 GiB up in {up_took:?}, down in {down_took:?}, all in {:?}\n{report}",
        started.elapsed()
    );
    assert!(
        daemon_growth < MAX_GROWTH,
        "the daemon grew by {} MiB moving 1 GiB:\n{report}",
        daemon_growth >> 20
    );
    assert!(
        worst_child < MAX_GROWTH,
        "an Apache child grew by {} MiB moving 1 GiB:\n{report}",
        worst_child >> 20
    );
    // The same daemon process did it all.
    assert_eq!(
        json_pid(&srv.get("/big/pid")),
        Some(u64::from(daemon)),
        "the daemon process changed during the transfers"
    );
}
