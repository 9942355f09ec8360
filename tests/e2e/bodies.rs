//! Request bodies reach the app whole: empty, large, chunked.

use crate::common;

use common::{Artifact, Echo, Request, TestServer, pseudo_random, sha256_hex};

fn echo_server() -> TestServer {
    TestServer::builder()
        .app(Artifact::Echo)
        .config("RustgiScriptAlias /app @APPS@/libecho.so")
        .start()
}

fn assert_body(echo: &Echo, body: &[u8], what: &str) {
    assert_eq!(echo.num("body_len"), body.len() as u64, "{what}: body_len");
    assert_eq!(
        echo.str("body_sha256").to_ascii_lowercase(),
        sha256_hex(body),
        "{what}: body_sha256"
    );
}

#[test]
fn empty_bodies() {
    let srv = echo_server();
    let echo = srv.echo(&Request::post("/app").body(""));
    assert_body(&echo, b"", "POST with Content-Length: 0");
    assert_eq!(echo.env("CONTENT_LENGTH").as_deref(), Some("0"));
    let echo = srv.echo(&Request::get("/app"));
    assert_body(&echo, b"", "GET");
    let echo = srv.echo(&Request::post("/app").chunked(Vec::<Vec<u8>>::new()));
    assert_body(&echo, b"", "chunked POST without chunks");
}

#[test]
fn ten_megabyte_post() {
    let srv = echo_server();
    let body = pseudo_random(10 * 1024 * 1024, 1);
    let echo = srv.echo(
        &Request::post("/app/upload")
            .header("Content-Type", "application/octet-stream")
            .body(body.clone()),
    );
    assert_body(&echo, &body, "10 MB POST");
    assert_eq!(
        echo.env("CONTENT_LENGTH").as_deref(),
        Some(body.len().to_string().as_str())
    );
}

#[test]
fn chunked_post() {
    let srv = echo_server();
    let pieces: Vec<Vec<u8>> = [1usize, 100, 8192, 70_000, 3, 65_536, 17]
        .iter()
        .enumerate()
        .map(|(i, n)| pseudo_random(*n, i as u64 + 10))
        .collect();
    let body = pieces.concat();
    let echo = srv.echo(&Request::post("/app/chunked").chunked(pieces));
    assert_body(&echo, &body, "chunked POST");

    // Many tiny chunks.
    let tiny: Vec<Vec<u8>> = (0..500u32).map(|i| i.to_string().into_bytes()).collect();
    let body = tiny.concat();
    let echo = srv.echo(&Request::post("/app/tiny").chunked(tiny));
    assert_body(&echo, &body, "500 tiny chunks");
}

#[test]
fn chunked_post_to_a_daemon_group() {
    common::daemon::require_daemon();
    let srv = TestServer::builder()
        .app(Artifact::Echo)
        .config(
            "RustgiDaemonProcess bodies processes=1 threads=2 home=@ROOT@\n\
             RustgiScriptAlias /dmn @APPS@/libecho.so process-group=bodies",
        )
        .start();
    // The Apache child passes body pieces on without copying them, unless
    // they are in too many pieces (here thousands of tiny chunks).
    for (what, pieces) in [
        (
            "large chunks",
            (0..40u64)
                .map(|i| pseudo_random(50_000 + i as usize, i))
                .collect::<Vec<_>>(),
        ),
        (
            "4000 tiny chunks",
            (0..4000u32).map(|i| i.to_string().into_bytes()).collect(),
        ),
    ] {
        let body = pieces.concat();
        let echo = srv.echo(&Request::post("/dmn/chunked").chunked(pieces));
        assert_body(&echo, &body, what);
    }
}

#[test]
fn expect_100_continue() {
    let srv = echo_server();
    let body = pseudo_random(100_000, 7);
    let echo = srv.echo(
        &Request::post("/app/continue")
            .header("Expect", "100-continue")
            .body(body.clone()),
    );
    assert_body(&echo, &body, "POST with Expect: 100-continue");
}

#[test]
fn bodies_of_many_sizes_on_one_server() {
    let srv = echo_server();
    for (i, n) in [
        1usize,
        2,
        1023,
        1024,
        1025,
        8191,
        8192,
        8193,
        65_535,
        65_536,
        65_537,
        1 << 20,
    ]
    .into_iter()
    .enumerate()
    {
        let body = pseudo_random(n, 100 + i as u64);
        let echo = srv.echo(&Request::put("/app/sizes").body(body.clone()));
        assert_body(&echo, &body, &format!("PUT of {n} bytes"));
        assert_eq!(echo.str("method"), "PUT");
    }
}
