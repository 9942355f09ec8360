//! `faults`: the app the daemon tests run to make a process misbehave.
//!
//! Routes by `PATH_INFO` (query parameters are raw `name=value` pairs):
//!
//! | path | what it does |
//! | --- | --- |
//! | `/` | 200 `ok` |
//! | `/pid` | JSON `{pid, uid, gid, cwd}` of the process running it |
//! | `/panic` | panics |
//! | `/abort` | `std::process::abort()` |
//! | `/segfault` | dies of SIGSEGV |
//! | `/exit` | `std::process::exit(3)` |
//! | `/sleep?ms=N` | sleeps N ms, then 200 `slept N` |
//! | `/spin` | busy-loops (at most 300 s), then 200 `spun` |
//! | `/alloc?mb=N` | allocates, touches and leaks N MiB, then 200 `allocated N MiB` |
//! | `/respond-before-read` | streams a 1 MiB answer (64 KiB writes) before it reads the request body, then reads all of it and logs its length |
//! | `/duplex` | answers each read of the request body with `got N\n`, flushed, then `end\n`: a client may wait for each answer before it sends more |
//! | `/bad-header` | a response header whose value holds CR LF |
//! | `/stream?mb=N` | streams N MiB of `x` in 64 KiB writes |
//! | `/upload` | reads the body in 64 KiB chunks; JSON `{len, sha256}` |
//! | `/upload?sum=crc32` | the same with `{len, crc32}` (8 hex digits): a check that costs the app far less than the transfer, for throughput measurements |
//! | `/env?name=NAME` | the process's environment variable NAME (404 if unset) |
//!
//! Anything else is a 404.

#![deny(unsafe_code)]

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use app_sdk::http::{self, StatusCode, header};
use app_sdk::response::{RawHeaders, ResponseBody};
use app_sdk::{IntoResponse, Request, RequestBody, Response};
use serde_json::json;
use sha2::{Digest, Sha256};

/// The size of body reads and response writes.
const CHUNK: usize = 64 * 1024;
/// The longest `/spin` runs.
const SPIN_LIMIT: Duration = Duration::from_secs(300);

fn faults(req: Request) -> Response {
    let path = req.path_info().to_owned();
    let query = req.query_string().to_owned();
    let param = |name: &str| -> Option<String> {
        query
            .split('&')
            .filter_map(|part| part.split_once('='))
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_owned())
    };
    let number = |name: &str| -> Option<u64> { param(name).and_then(|v| v.parse().ok()) };
    match path.as_str() {
        "" | "/" => "ok".into_response(),
        "/pid" => json_response(&json!({
            "pid": std::process::id(),
            "uid": uid(),
            "gid": gid(),
            "cwd": std::env::current_dir().ok().map(|d| d.to_string_lossy().into_owned()),
        })),
        "/panic" => panic!("faults panicked on purpose"),
        "/abort" => std::process::abort(),
        "/segfault" => segfault(),
        "/exit" => std::process::exit(3),
        "/sleep" => {
            let ms = number("ms").unwrap_or(1000);
            std::thread::sleep(Duration::from_millis(ms));
            format!("slept {ms}").into_response()
        }
        "/spin" => {
            let start = Instant::now();
            let mut x = 0u64;
            while start.elapsed() < SPIN_LIMIT {
                x = std::hint::black_box(x.wrapping_add(1));
            }
            "spun".into_response()
        }
        "/alloc" => {
            let mb = number("mb").unwrap_or(1) as usize;
            let mut block = vec![0u8; mb << 20];
            // Touch every page so it counts in the RSS.
            for page in block.chunks_mut(4096) {
                page[0] = 1;
            }
            std::hint::black_box(&block);
            block.leak();
            format!("allocated {mb} MiB").into_response()
        }
        "/respond-before-read" => respond_before_read(req.into_body()),
        "/duplex" => duplex(req.into_body()),
        "/bad-header" => {
            let mut res = "bad header".into_response();
            res.extensions_mut().insert(RawHeaders(vec![(
                b"x-bad".to_vec(),
                b"a\r\nInjected: yes".to_vec(),
            )]));
            res
        }
        "/stream" => stream(number("mb").unwrap_or(1) << 20),
        "/upload" => {
            let mut body = req.into_body();
            let crc32 = param("sum").as_deref() == Some("crc32");
            match digest(&mut body, crc32) {
                Ok((len, sum)) if crc32 => json_response(&json!({ "len": len, "crc32": sum })),
                Ok((len, sum)) => json_response(&json!({ "len": len, "sha256": sum })),
                Err(e) => (
                    StatusCode::BAD_REQUEST,
                    format!("could not read the body: {e}\n"),
                )
                    .into_response(),
            }
        }
        "/env" => match param("name").and_then(std::env::var_os) {
            Some(value) => value.to_string_lossy().into_owned().into_response(),
            None => (StatusCode::NOT_FOUND, "unset\n").into_response(),
        },
        _ => (StatusCode::NOT_FOUND, "no such fault\n").into_response(),
    }
}

app_sdk::export_handler!(faults);

/// Dies of SIGSEGV. The Rust runtime of the host process handles SIGSEGV to
/// report stack overflows and returns from its handler for any other
/// SIGSEGV, so the default action is restored before the signal is raised.
#[allow(unsafe_code)]
fn segfault() -> ! {
    // SAFETY: restoring the default action of SIGSEGV and raising it have no
    // memory-safety preconditions; the process dies of the signal.
    unsafe {
        libc::signal(libc::SIGSEGV, libc::SIG_DFL);
        libc::raise(libc::SIGSEGV);
    }
    // raise does not return for SIGSEGV's default action.
    std::process::abort()
}

#[allow(unsafe_code)]
fn uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

#[allow(unsafe_code)]
fn gid() -> u32 {
    // SAFETY: getgid has no preconditions and cannot fail.
    unsafe { libc::getgid() }
}

fn json_response(value: &serde_json::Value) -> Response {
    http::Response::builder()
        .header(header::CONTENT_TYPE, "application/json")
        .body(ResponseBody::from(value.to_string()))
        .expect("a valid response")
}

/// `len` bytes of `x` in 64 KiB writes.
fn stream(len: u64) -> Response {
    let body = ResponseBody::stream(move |w| {
        let chunk = vec![b'x'; CHUNK];
        let mut sent = 0u64;
        while sent < len {
            let n = (len - sent).min(CHUNK as u64) as usize;
            w.write_all(&chunk[..n])?;
            sent += n as u64;
        }
        Ok(())
    });
    http::Response::builder()
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(body)
        .expect("a valid response")
}

/// Answers 1 MiB before reading the request body, then reads all of it:
/// with a host that pushed the body unasked, both sides would block writing.
fn respond_before_read(mut body: RequestBody) -> Response {
    let stream = ResponseBody::stream(move |w| {
        let chunk = vec![b'r'; CHUNK];
        for _ in 0..16 {
            w.write_all(&chunk)?;
        }
        w.flush()?;
        let (len, _) = digest(&mut body, false)?;
        log::info!("respond-before-read: read a request body of {len} bytes");
        Ok(())
    });
    http::Response::builder()
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(stream)
        .expect("a valid response")
}

fn duplex(mut body: RequestBody) -> Response {
    let stream = ResponseBody::stream(move |w| {
        let mut buf = vec![0; CHUNK];
        loop {
            match body.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    writeln!(w, "got {n}")?;
                    w.flush()?;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        w.write_all(b"end\n")
    });
    http::Response::builder()
        .header(header::CONTENT_TYPE, "text/plain")
        .body(stream)
        .expect("a valid response")
}

/// The body's length and its SHA-256, or its CRC-32 when `crc32`, in hex.
fn digest(body: &mut impl Read, crc32: bool) -> io::Result<(u64, String)> {
    let mut sha256 = Sha256::new();
    let mut crc = crc32fast::Hasher::new();
    let mut buf = vec![0; CHUNK];
    let mut len = 0u64;
    loop {
        match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if crc32 {
                    crc.update(&buf[..n]);
                } else {
                    sha256.update(&buf[..n]);
                }
                len += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    if crc32 {
        return Ok((len, format!("{:08x}", crc.finalize())));
    }
    let hex = sha256
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((len, hex))
}

#[cfg(test)]
mod tests {
    use super::*;
    use app_sdk::{Config, Environ};

    fn request(path: &str, query: &str, body: &[u8]) -> Request {
        let environ = Environ::from_iter([
            ("REQUEST_METHOD", "POST"),
            ("REQUEST_URI", "/"),
            ("SCRIPT_NAME", ""),
            ("PATH_INFO", path),
            ("QUERY_STRING", query),
        ]);
        Request::new(
            environ,
            Config::new(),
            RequestBody::from_bytes(body.to_vec()),
        )
    }

    fn body(res: Response) -> Vec<u8> {
        res.into_body().into_vec().unwrap()
    }

    #[test]
    fn routes() {
        assert_eq!(body(faults(request("/", "", b""))), b"ok");
        assert_eq!(body(faults(request("/sleep", "ms=1", b""))), b"slept 1");
        assert_eq!(
            body(faults(request("/alloc", "mb=2", b""))),
            b"allocated 2 MiB"
        );
        assert_eq!(body(faults(request("/stream", "mb=1", b""))).len(), 1 << 20);
        let pid: serde_json::Value =
            serde_json::from_slice(&body(faults(request("/pid", "", b"")))).unwrap();
        assert_eq!(pid["pid"], std::process::id());
        assert_eq!(faults(request("/nope", "", b"")).status(), 404);
    }

    #[test]
    fn upload_digests_the_body() {
        let v: serde_json::Value =
            serde_json::from_slice(&body(faults(request("/upload", "", b"hello")))).unwrap();
        assert_eq!(v["len"], 5);
        assert_eq!(
            v["sha256"],
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        let v: serde_json::Value =
            serde_json::from_slice(&body(faults(request("/upload", "sum=crc32", b"hello"))))
                .unwrap();
        assert_eq!(v["len"], 5);
        // The CRC-32 (IEEE) of "hello".
        assert_eq!(v["crc32"], "3610a686");
    }

    #[test]
    fn respond_before_read_reads_everything() {
        let res = faults(request("/respond-before-read", "", &[7; 100_000]));
        assert_eq!(body(res).len(), 1 << 20);
    }

    #[test]
    fn duplex_answers_each_read() {
        let res = faults(request("/duplex", "", b"hello"));
        assert_eq!(body(res), b"got 5\nend\n");
    }

    #[test]
    fn bad_header_is_raw() {
        let res = faults(request("/bad-header", "", b""));
        let raw = res.extensions().get::<RawHeaders>().unwrap();
        assert!(raw.0[0].1.windows(2).any(|w| w == b"\r\n"));
    }

    #[test]
    #[should_panic(expected = "faults panicked on purpose")]
    fn panics() {
        faults(request("/panic", "", b""));
    }
}
