//! Responses stream: what the app flushes reaches the client before the app
//! returns, and large bodies arrive whole.

use crate::common;

use std::time::{Duration, Instant};

use common::http::percent_encode;
use common::{Artifact, Request, TestServer, sha256_hex};

fn echo_server() -> TestServer {
    TestServer::builder()
        .app(Artifact::Echo)
        .config("RustgiScriptAlias /app @APPS@/libecho.so")
        .start()
}

/// The body `?size=N` asks for: `abc...z` repeated, cut at N bytes.
fn alphabet(n: usize) -> Vec<u8> {
    (b'a'..=b'z').cycle().take(n).collect()
}

#[test]
fn flushed_output_arrives_before_the_app_returns() {
    let srv = echo_server();
    let flag = srv.root().join("stream-go");
    let target = format!(
        "/app?stream_wait={}",
        percent_encode(&flag.display().to_string())
    );
    let started = Instant::now();
    let mut resp = srv.open(&Request::get(&target));
    assert_eq!(resp.head.status, 200);
    // The app now waits (up to 10 s) for the flag file: part1 must arrive
    // while it waits, so only then is the file created.
    let first = resp
        .read_until_contains(b"part1\n")
        .unwrap_or_else(|e| panic!("reading part1: {e}\nerror_log:\n{}", srv.error_log()));
    assert!(
        !first.windows(5).any(|w| w == b"part2" || w == b"timeo"),
        "the app finished before part1 arrived: {:?}",
        String::from_utf8_lossy(&first)
    );
    let waited = started.elapsed();
    std::fs::write(&flag, b"go").unwrap();
    let rest = resp.read_rest().unwrap();
    let mut body = first;
    body.extend_from_slice(&rest);
    assert_eq!(
        String::from_utf8_lossy(&body),
        "part1\npart2\n",
        "part1 took {waited:?}"
    );
    assert!(
        waited < Duration::from_secs(8),
        "part1 arrived only after {waited:?}"
    );
}

#[test]
fn large_streamed_body_arrives_whole() {
    let srv = echo_server();
    let n = 8 * 1024 * 1024 + 123;
    let resp = srv.get(&format!("/app?size={n}"));
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.header("Content-Type"),
        Some("application/octet-stream"),
        "{:?}",
        resp.head.headers
    );
    assert_eq!(resp.body.len(), n);
    assert_eq!(sha256_hex(&resp.body), sha256_hex(&alphabet(n)));
}

#[test]
fn streamed_body_is_read_incrementally() {
    let srv = echo_server();
    let n = 3 * 64 * 1024 + 5;
    let mut resp = srv.open(&Request::get(&format!("/app?size={n}")));
    assert_eq!(resp.head.status, 200);
    let mut got = Vec::new();
    let mut reads = 0;
    loop {
        let part = resp.read_some().unwrap();
        if part.is_empty() {
            break;
        }
        reads += 1;
        got.extend_from_slice(&part);
    }
    assert!(reads > 1);
    assert_eq!(got, alphabet(n));
}

#[test]
fn small_sizes_and_http_1_0() {
    let srv = echo_server();
    for n in [0usize, 1, 26, 27, 65_535, 65_536, 65_537] {
        let resp = srv.get(&format!("/app?size={n}"));
        assert_eq!(resp.status(), 200, "size={n}");
        assert_eq!(resp.body, alphabet(n), "size={n}");
    }
    // HTTP/1.0 has no chunking: the body ends when the connection closes
    // (or has a Content-Length).
    let resp = srv.send_raw(
        format!(
            "GET /app?size=100000 HTTP/1.0\r\nHost: 127.0.0.1:{}\r\n\r\n",
            srv.port()
        )
        .as_bytes(),
    );
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.header("Transfer-Encoding"), None);
    assert_eq!(resp.body, alphabet(100_000));
}
