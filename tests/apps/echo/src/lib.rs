//! `echo`: the app the integration tests run under Apache.
//!
//! By default it answers `application/json` describing what it saw:
//!
//! | key | value |
//! | --- | --- |
//! | `method`, `script_name`, `path_info`, `query_string` | from the request |
//! | `headers` | object: lower-cased header name → value |
//! | `environ` | object: every variable (values as lossy UTF-8) |
//! | `body_len`, `body_sha256` | length and SHA-256 (hex) of the request body, read in 64 KiB chunks |
//! | `pid`, `uid`, `gid`, `cwd` | of the process running the app |
//! | `config` | object: the request's `RustgiAppConfig` pairs |
//! | `init_config` | object: the pairs `init` got |
//!
//! Query parameters (percent-decoded, `+` as space) change that:
//!
//! * `log=LEVEL&msg=TEXT` logs TEXT through `log` at LEVEL (`error`, `warn`,
//!   `info`, `debug` or `trace`) first;
//! * `panic=1` panics with the message `echo panicked on purpose`;
//! * `status=N` sets the response status;
//! * `header=NAME:VALUE` (repeatable) adds a response header, byte for byte,
//!   so CR, LF or NUL can be injected to check that the host refuses them;
//! * `size=N` streams N bytes of `a`..`z` repeating instead, as
//!   `application/octet-stream`, in 64 KiB writes with a flush after each;
//! * `stream_wait=PATH` instead writes `part1\n`, flushes, waits (polling
//!   every 10 ms, up to 10 s) for the file PATH to exist, then writes
//!   `part2\n`, or `timeout\n` if it never appeared;
//! * `file=PATH` answers with the file PATH as app-sdk's `FileResponse`
//!   does (ranges, conditional GET, HEAD), with `X-Pid`.
//!
//! If the configuration `init` gets has `fail_init` (or `init_fail`) =
//! MESSAGE, `init` fails with MESSAGE.

#![deny(unsafe_code)]

use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use app_sdk::http::{self, HeaderName, HeaderValue, StatusCode, header};
use app_sdk::response::{RawHeaders, ResponseBody};
use app_sdk::{App, Config, InitContext, InitError, IntoResponse, Request, Response};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// The size of body reads and of the writes of `size=N`.
const CHUNK: usize = 64 * 1024;

/// The app: it remembers the configuration `init` got.
struct Echo {
    init_config: Config,
}

impl App for Echo {
    fn init(ctx: &InitContext) -> Result<Self, InitError> {
        for key in ["fail_init", "init_fail"] {
            if let Some(msg) = ctx.config().get(key) {
                return Err(msg.into());
            }
        }
        Ok(Echo {
            init_config: ctx.config().clone(),
        })
    }

    fn handle(&self, req: Request) -> Response {
        self.answer(req)
            .unwrap_or_else(|reason| (StatusCode::BAD_REQUEST, reason + "\n").into_response())
    }
}

app_sdk::export_app!(Echo);

impl Echo {
    /// The response, or why the request is bad (answered with a 400).
    fn answer(&self, mut req: Request) -> Result<Response, String> {
        let query = req.environ().get_bytes("QUERY_STRING").unwrap_or_default();
        let params = parse_query(query);
        let text = |name: &str| {
            params
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| lossy(v))
        };
        let bytes = |name: &str| {
            params
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };

        if let Some(level) = text("log") {
            let msg = text("msg").unwrap_or_default();
            match level.as_str() {
                "error" => log::error!("{msg}"),
                "warn" => log::warn!("{msg}"),
                "info" => log::info!("{msg}"),
                "debug" => log::debug!("{msg}"),
                "trace" => log::trace!("{msg}"),
                other => return Err(format!("unknown log level {other:?}")),
            }
        }
        if text("panic").as_deref() == Some("1") {
            panic!("echo panicked on purpose");
        }
        let status = match text("status") {
            None => StatusCode::OK,
            Some(s) => s
                .parse::<u16>()
                .ok()
                .and_then(|n| StatusCode::from_u16(n).ok())
                .ok_or_else(|| format!("bad status {s:?}"))?,
        };

        let mut res = if let Some(size) = text("size") {
            let size = size
                .parse::<u64>()
                .map_err(|_| format!("bad size {size:?}"))?;
            stream_letters(size)
        } else if let Some(path) = bytes("file") {
            let file = app_sdk::response::FileResponse::open(Path::new(OsStr::from_bytes(&path)))
                .map_err(|e| format!("cannot open the file: {e}"))?;
            let mut res = file.respond(&req);
            res.headers_mut()
                .insert("x-pid", HeaderValue::from(std::process::id()));
            // Its own status (206, 304, 416...) and headers stand.
            return Ok(res);
        } else if let Some(path) = bytes("stream_wait") {
            stream_wait(PathBuf::from(OsStr::from_bytes(&path)))
        } else {
            self.describe(&mut req)?
        };
        *res.status_mut() = status;

        let mut raw = Vec::new();
        for (_, value) in params.iter().filter(|(n, _)| n == "header") {
            let Some(colon) = value.iter().position(|&b| b == b':') else {
                return Err("header=NAME:VALUE needs a colon".to_owned());
            };
            let name = &value[..colon];
            let mut value = &value[colon + 1..];
            while let [b' ' | b'\t', rest @ ..] = value {
                value = rest;
            }
            match (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) {
                (Ok(name), Ok(value)) => {
                    res.headers_mut().append(name, value);
                }
                _ => raw.push((name.to_vec(), value.to_vec())),
            }
        }
        if !raw.is_empty() {
            res.extensions_mut().insert(RawHeaders(raw));
        }
        Ok(res)
    }

    /// The JSON description of the request.
    fn describe(&self, req: &mut Request) -> Result<Response, String> {
        let (body_len, body_sha256) =
            digest(req.body_mut()).map_err(|e| format!("could not read the request body: {e}"))?;

        let mut headers = Map::new();
        for name in req.headers().keys() {
            let values: Vec<String> = req
                .headers()
                .get_all(name)
                .iter()
                .map(|v| lossy(v.as_bytes()))
                .collect();
            headers.insert(name.as_str().to_owned(), values.join(", ").into());
        }
        let environ: Map<String, Value> = req
            .environ()
            .iter()
            .map(|(n, v)| (lossy(n), lossy(v).into()))
            .collect();

        let description = json!({
            "method": req.method().as_str(),
            "script_name": req.script_name(),
            "path_info": req.path_info(),
            "query_string": req.query_string(),
            "headers": headers,
            "environ": environ,
            "body_len": body_len,
            "body_sha256": body_sha256,
            "pid": std::process::id(),
            "uid": uid(),
            "gid": gid(),
            "cwd": std::env::current_dir().ok().map(|d| d.to_string_lossy().into_owned()),
            "config": config_object(req.config()),
            "init_config": config_object(&self.init_config),
        });
        let body = serde_json::to_vec(&description).map_err(|e| e.to_string())?;
        Ok(http::Response::builder()
            .header(header::CONTENT_TYPE, "application/json")
            .body(ResponseBody::from(body))
            .expect("a valid response"))
    }
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

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn config_object(config: &Config) -> Map<String, Value> {
    config
        .iter()
        .map(|(n, v)| (n.to_owned(), v.into()))
        .collect()
}

/// Reads `body` to its end in 64 KiB chunks: its length and SHA-256 in hex.
fn digest(body: &mut impl Read) -> io::Result<(u64, String)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0; CHUNK];
    let mut len = 0u64;
    loop {
        match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                hasher.update(&buf[..n]);
                len += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let hex = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((len, hex))
}

/// Byte `i` of the `size=N` body.
fn letter(i: u64) -> u8 {
    b'a' + (i % 26) as u8
}

/// `size` bytes of `a`..`z` repeating, in flushed 64 KiB writes.
fn stream_letters(size: u64) -> Response {
    let body = ResponseBody::stream(move |w| {
        let mut chunk = vec![0; CHUNK];
        let mut sent = 0u64;
        while sent < size {
            let n = (size - sent).min(CHUNK as u64) as usize;
            for (i, b) in chunk[..n].iter_mut().enumerate() {
                *b = letter(sent + i as u64);
            }
            w.write_all(&chunk[..n])?;
            w.flush()?;
            sent += n as u64;
        }
        Ok(())
    });
    http::Response::builder()
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .body(body)
        .expect("a valid response")
}

/// `part1\n`, flushed, then `part2\n` once `path` exists (or `timeout\n`).
fn stream_wait(path: PathBuf) -> Response {
    let body = ResponseBody::stream(move |w| {
        w.write_all(b"part1\n")?;
        w.flush()?;
        let end = if wait_for(&path, Duration::from_secs(10)) {
            "part2\n"
        } else {
            "timeout\n"
        };
        w.write_all(end.as_bytes())
    });
    http::Response::builder()
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(body)
        .expect("a valid response")
}

/// Polls every 10 ms until `path` exists or `limit` has passed.
fn wait_for(path: &Path, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if path.exists() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The `name=value` pairs of a query string, percent-decoded with `+` as a
/// space; names as lossy UTF-8, values as bytes.
fn parse_query(query: &[u8]) -> Vec<(String, Vec<u8>)> {
    query
        .split(|&b| b == b'&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (name, value) = match part.iter().position(|&b| b == b'=') {
                Some(eq) => (&part[..eq], &part[eq + 1..]),
                None => (part, &[][..]),
            };
            (lossy(&decode(name)), decode(value))
        })
        .collect()
}

/// Percent-decodes `s`, with `+` as a space; a `%` not followed by two hex
/// digits stays as it is.
fn decode(s: &[u8]) -> Vec<u8> {
    fn hex(b: u8) -> Option<u8> {
        char::from(b).to_digit(16).map(|d| d as u8)
    }
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' => match (
                s.get(i + 1).copied().and_then(hex),
                s.get(i + 2).copied().and_then(hex),
            ) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use app_sdk::{Environ, RequestBody};

    fn request(query: &str, body: &[u8]) -> Request {
        let environ = Environ::from_iter([
            ("REQUEST_METHOD", "POST"),
            ("REQUEST_URI", "/echo/x"),
            ("SCRIPT_NAME", "/echo"),
            ("PATH_INFO", "/x"),
            ("QUERY_STRING", query),
            ("HTTP_X_FOO", "bar"),
        ]);
        let config = Config::from_iter([("k", "v")]);
        Request::new(environ, config, RequestBody::from_bytes(body.to_vec()))
    }

    fn echo() -> Echo {
        Echo::init(&InitContext::new(Config::from_iter([("a", "b")]))).unwrap()
    }

    #[test]
    fn query_decoding() {
        assert_eq!(decode(b"a+b%20c%2x%41%"), b"a b c%2xA%");
        assert_eq!(decode(b"%0d%0A%00"), b"\r\n\0");
        let q = parse_query(b"header=X-A%3A1&&flag&status=201&header=B:%0d");
        assert_eq!(
            q,
            [
                ("header".to_owned(), b"X-A:1".to_vec()),
                ("flag".to_owned(), vec![]),
                ("status".to_owned(), b"201".to_vec()),
                ("header".to_owned(), b"B:\r".to_vec()),
            ]
        );
    }

    #[test]
    fn describes_the_request() {
        let res = echo().handle(request("status=201&header=X-A:%201", b"hello"));
        assert_eq!(res.status(), 201);
        assert_eq!(res.headers()["content-type"], "application/json");
        assert_eq!(res.headers()["x-a"], "1");
        let body = res.into_body().into_vec().unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["method"], "POST");
        assert_eq!(v["path_info"], "/x");
        assert_eq!(v["script_name"], "/echo");
        assert_eq!(v["query_string"], "status=201&header=X-A:%201");
        assert_eq!(v["headers"]["x-foo"], "bar");
        assert_eq!(v["environ"]["HTTP_X_FOO"], "bar");
        assert_eq!(v["body_len"], 5);
        assert_eq!(
            v["body_sha256"],
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(v["config"]["k"], "v");
        assert_eq!(v["init_config"]["a"], "b");
        assert_eq!(v["pid"], std::process::id());
    }

    #[test]
    fn invalid_headers_go_raw() {
        let res = echo().handle(request("header=X-Bad:a%0d%0ab", b""));
        assert!(!res.headers().contains_key("x-bad"));
        let raw = res.extensions().get::<RawHeaders>().unwrap();
        assert_eq!(raw.0, [(b"X-Bad".to_vec(), b"a\r\nb".to_vec())]);
    }

    #[test]
    fn streams_letters() {
        let res = echo().handle(request("size=70000", b""));
        assert_eq!(res.headers()["content-type"], "application/octet-stream");
        let body = res.into_body().into_vec().unwrap();
        assert_eq!(body.len(), 70000);
        assert!(body.starts_with(b"abcdefghijklmnopqrstuvwxyzabc"));
        assert_eq!(body[69999], letter(69999));
    }

    #[test]
    fn waits_for_a_file() {
        let dir = std::env::temp_dir().join(format!("echo-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let flag = dir.join("go");
        std::fs::write(&flag, b"").unwrap();
        let query = format!("stream_wait={}", flag.display());
        let body = echo().handle(request(&query, b"")).into_body();
        assert_eq!(body.into_vec().unwrap(), b"part1\npart2\n");
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(!wait_for(&flag, Duration::from_millis(30)));
    }

    #[test]
    fn bad_parameters() {
        for query in ["status=abc", "log=loud", "size=-1", "header=nocolon"] {
            let res = echo().handle(request(query, b""));
            assert_eq!(res.status(), 400, "{query}");
        }
        let res = echo().handle(request("log=info&msg=hi", b""));
        assert_eq!(res.status(), 200);
    }

    #[test]
    fn init_can_be_made_to_fail() {
        let ctx = InitContext::new(Config::from_iter([("fail_init", "nope")]));
        assert_eq!(Echo::init(&ctx).err().unwrap().message(), "nope");
    }

    #[test]
    #[should_panic(expected = "echo panicked on purpose")]
    fn panics_on_request() {
        echo().handle(request("panic=1", b""));
    }
}
