//! Hostile requests over raw TCP: malformed chunked framing, truncated
//! bodies, NUL and invalid UTF-8 in the path, query and headers, oversized
//! headers, bodies over `LimitRequestBody`, slow clients and request
//! smuggling attempts. Each must get a 4xx or a clean close (or, for the
//! few that are odd but valid HTTP, be served correctly by the app), never
//! a 5xx, and must crash nothing.
//!
//! The app-level cases ([`app_cases`]) go past Apache to an app built on
//! app-sdk, `examples/simple`: malformed and oversized forms and JSON
//! bodies, forged and garbage session cookies. Each must get exactly the
//! answer app-sdk documents for it (400, 413, 415, or the redirect to the
//! login page of a client without a session), never a 5xx.
//!
//! The Python cases ([`python_cases`]) go to a PoorWSGI app in a daemon
//! group of its own, through the Python bridge: malformed forms, uploads
//! and JSON bodies, and odd headers, each answered by PoorWSGI (its 400
//! page, or what its lenient parsers made of the input), never a 5xx.
//!
//! The same list serves `tests/e2e/solo/hostile.rs` (through this crate, a
//! dev-dependency of the tests) and `rustgi-chaos --hostile`, which reports
//! the counts in RELIABILITY.md. Standard library only.
//!
//! This file is long on purpose: it is the catalogue of cases, each a few
//! lines of raw request and the answers it may get, kept in one list so
//! that they stay comparable and a new case goes beside its kind.
//!
//! The protocol-level cases run against the echo app at [`EMBEDDED`]
//! (inside Apache's children) and at [`DAEMON`] (a daemon group), and
//! against the PoorWSGI app at [`PY_DAEMON`]; the app-level ones against
//! `examples/simple` at [`SIMPLE_EMBEDDED`] and [`SIMPLE_DAEMON`]; with the
//! server configuration [`server_config`] and `mod_reqtimeout` loaded.

use std::collections::BTreeMap;
use std::io::{self, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::wire::{self, Response};

/// `LimitRequestBody` in [`SERVER_CONFIG`] (outside `examples/simple`).
pub const LIMIT_REQUEST_BODY: usize = 65_536;

/// Where the echo app runs embedded.
pub const EMBEDDED: &str = "/emb";
/// Where the echo app runs in the daemon group `hostile`.
pub const DAEMON: &str = "/dmn";
/// Where `examples/simple` runs embedded.
pub const SIMPLE_EMBEDDED: &str = "/semb";
/// Where `examples/simple` runs in the daemon group `hostile`.
pub const SIMPLE_DAEMON: &str = "/sdmn";
/// Where the PoorWSGI app runs, in the daemon group `hostilepy`.
pub const PY_DAEMON: &str = "/pdmn";
/// The modules the configuration needs besides the defaults.
pub const MODULES: &[&str] = &["reqtimeout"];

/// The PoorWSGI app's file name in the apps directory (`@APPS@`).
pub const POORWSGI_APP_NAME: &str = "hostile_poorwsgi.py";
/// The PoorWSGI app: its routes parse a form, an upload and JSON with
/// PoorWSGI's parsers; any other path answers as the echo app does.
pub const POORWSGI_APP: &str = include_str!("hostile_poorwsgi.py");
/// What the Python group's virtual environment (its `python-home`) holds.
pub const PYTHON_PACKAGES: &[&str] = &["poorwsgi==2.8.1"];

/// The configuration the cases expect (placeholders `@APPS@`: the directory
/// holding `libecho.so` and `libsimple.so`, `@ROOT@`: the server root). The
/// timeouts of `mod_reqtimeout` are short so that the slow clients take
/// seconds.
///
/// `examples/simple` needs a `secret_key` of 32 bytes or more and an
/// existing `static_dir` (no case asks for its `simple.txt`). Its locations
/// lift `LimitRequestBody`, so that the app-level cases meet app-sdk's own
/// limits rather than Apache's.
pub const SERVER_CONFIG: &str = "\
RequestReadTimeout header=2-4,MinRate=500 body=3,MinRate=500
LimitRequestBody 65536
RustgiDaemonProcess hostile processes=1 threads=8 home=@ROOT@
RustgiScriptAlias /emb @APPS@/libecho.so
RustgiScriptAlias /dmn @APPS@/libecho.so process-group=hostile
RustgiScriptAlias /semb @APPS@/libsimple.so
RustgiScriptAlias /sdmn @APPS@/libsimple.so process-group=hostile
RustgiAppConfig secret_key hostile-runs-only-secret-0123456789abcdef
RustgiAppConfig static_dir @APPS@
<Location /semb>
    LimitRequestBody 0
</Location>
<Location /sdmn>
    LimitRequestBody 0
</Location>
";

/// The Python group of the configuration (placeholder `@VENV@`: a virtual
/// environment holding [`PYTHON_PACKAGES`]). PoorWSGI has no body limits of
/// its own: Apache's `LimitRequestBody` applies, as in a deployment.
pub const PYTHON_CONFIG: &str = "\
RustgiDaemonProcess hostilepy processes=1 threads=8 home=@ROOT@ python-home=@VENV@
RustgiScriptAlias /pdmn @APPS@/hostile_poorwsgi.py process-group=hostilepy
";

/// [`SERVER_CONFIG`] and [`PYTHON_CONFIG`], with `venv` for `@VENV@`.
pub fn server_config(venv: &str) -> String {
    format!("{SERVER_CONFIG}{}", PYTHON_CONFIG.replace("@VENV@", venv))
}

/// How long a read may block (the slow cases have [`SLOW_LIMIT`]).
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a slow client may go on before the server must have cut it off
/// (mod_reqtimeout: 2 to 4 s for the head, 3 s for the body).
pub const SLOW_LIMIT: Duration = Duration::from_secs(12);
/// How long to wait for a second response after the first.
const SECOND_RESPONSE_WAIT: Duration = Duration::from_millis(1500);

/// What a case attacks, for the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Category {
    Chunked,
    Truncated,
    Bytes,
    Headers,
    BodyLimit,
    Slow,
    Smuggling,
    /// Malformed and oversized forms, multipart and urlencoded: see
    /// [`app_cases`].
    Forms,
    /// Malformed, deeply nested and oversized JSON bodies.
    Json,
    /// Forged, garbage and oversized session cookies.
    Sessions,
    /// Malformed forms and uploads to the PoorWSGI app: see
    /// [`python_cases`].
    PyForms,
    /// Malformed, deeply nested and odd JSON to the PoorWSGI app.
    PyJson,
    /// Odd cookies and `Content-Type` parameters to the PoorWSGI app.
    PyHeaders,
}

impl Category {
    pub fn label(self) -> &'static str {
        match self {
            Category::Chunked => "malformed chunked framing",
            Category::Truncated => "truncated bodies",
            Category::Bytes => "NUL and invalid UTF-8 in path, query, headers",
            Category::Headers => "very large request line and headers",
            Category::BodyLimit => "bodies over LimitRequestBody",
            Category::Slow => "slow and stalled clients",
            Category::Smuggling => "request smuggling (CL/TE)",
            Category::Forms => "app level: multipart and urlencoded forms",
            Category::Json => "app level: JSON bodies",
            Category::Sessions => "app level: session cookies",
            Category::PyForms => "Python (PoorWSGI): forms and uploads",
            Category::PyJson => "Python (PoorWSGI): JSON bodies",
            Category::PyHeaders => "Python (PoorWSGI): cookies and Content-Type",
        }
    }
}

/// How a case's bytes go out.
#[derive(Clone, Debug)]
pub enum Sending {
    /// All at once, then read.
    Whole(Vec<u8>),
    /// All at once, then shut down the sending half (the body ends early),
    /// then read.
    HalfClose(Vec<u8>),
    /// All at once, then close the connection without reading: the server
    /// is judged by its logs.
    Abandon(Vec<u8>),
    /// `head` at once, then `drip` a byte at a time, one every `every`,
    /// until the server answers or closes.
    Drip {
        head: Vec<u8>,
        drip: Vec<u8>,
        every: Duration,
    },
}

/// What a case must get.
#[derive(Clone, Debug)]
pub enum Expect {
    /// A 4xx, or the connection closed without a response.
    Reject,
    /// A 4xx or a clean close, or (the input being odd but valid HTTP) a
    /// 2xx from the app whose body holds each of these strings.
    RejectOrServe(Vec<String>),
    /// At most one response on the connection: the bytes after the body, as
    /// one framing header counts it, must not be answered as a request of
    /// their own. With `Some`, as `RejectOrServe`; with `None`, as `Reject`.
    OneResponse(Option<Vec<String>>),
    /// For an HTTP/0.9 request: a 4xx, a clean close, or a bare HTTP/0.9
    /// answer (no status line) from the app holding each of these strings.
    Http09(Vec<String>),
    /// Exactly the answer app-sdk documents for the input: this status,
    /// with a body holding each of these strings (the app's own message,
    /// not a page of Apache's).
    Answer { status: u16, holding: Vec<String> },
    /// A redirect (3xx) whose `Location` ends with this path: the app
    /// treating the client as one without a session.
    RedirectTo(String),
}

/// One hostile request.
#[derive(Clone, Debug)]
pub struct Case {
    /// `emb/chunk-bad-hex`: the mode and the name.
    pub id: String,
    pub category: Category,
    pub what: &'static str,
    pub sending: Sending,
    pub expect: Expect,
}

/// How the connection ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ending {
    /// The server closed it (after the responses, or without any).
    Closed,
    /// The server reset it, between responses.
    Reset,
    /// Still open after the last response (or without any) when the wait
    /// ran out.
    LeftOpen,
    /// The client closed it ([`Sending::Abandon`]).
    Abandoned,
    /// A response cut short or malformed, or another I/O error.
    Error(String),
}

/// What a case got.
#[derive(Clone, Debug)]
pub struct Observation {
    pub responses: Vec<Response>,
    /// For [`Expect::Http09`]: every byte received, unparsed.
    pub raw: Vec<u8>,
    pub ending: Ending,
    pub took: Duration,
}

/// Whether a case got what it must.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Passed, with the outcome in short: `400`, `close`, `200 served`.
    Pass(String),
    Fail(String),
}

impl Verdict {
    pub fn passed(&self) -> bool {
        matches!(self, Verdict::Pass(_))
    }
}

/// A case, what it got and the verdict.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub case: Case,
    pub observation: Observation,
    pub verdict: Verdict,
}

fn s(v: &str) -> String {
    v.to_owned()
}

/// The protocol-level cases against the app at `prefix` ([`EMBEDDED`] or
/// [`DAEMON`]), with `host` for the `Host` header.
pub fn cases(prefix: &str, host: &str) -> Vec<Case> {
    let mode = prefix.trim_start_matches('/');
    let t = |rest: &str| -> Vec<u8> { format!("{prefix}{rest}").into_bytes() };
    let head = |method: &str, target: &[u8], headers: &[&[u8]]| -> Vec<u8> {
        let mut all: Vec<&[u8]> = vec![b"Connection: close"];
        all.extend_from_slice(headers);
        wire::head(method, target, host, &all)
    };
    let cat = |mut a: Vec<u8>, b: &[u8]| {
        a.extend_from_slice(b);
        a
    };
    let chunked = |body: &[u8]| {
        cat(
            head(
                "POST",
                &t("/chunked"),
                &[b"Transfer-Encoding: chunked", b"Content-Type: text/plain"],
            ),
            body,
        )
    };
    // A 2xx must come from the echo app at `prefix` and hold `needle`.
    let served_with = |needle: &str| vec![format!("\"script_name\":\"{prefix}\""), s(needle)];
    let mut out: Vec<Case> = Vec::new();
    let mut add = |name: &str, category, what, sending, expect| {
        out.push(Case {
            id: format!("{mode}/{name}"),
            category,
            what,
            sending,
            expect,
        });
    };
    use Category::*;
    use Expect::*;
    use Sending::*;

    // Malformed chunked framing.
    add(
        "chunk-bad-hex",
        Chunked,
        "chunk size `zz`",
        Whole(chunked(b"zz\r\nhello\r\n0\r\n\r\n")),
        Reject,
    );
    add(
        "chunk-missing-crlf",
        Chunked,
        "chunk data not followed by CRLF",
        Whole(chunked(b"5\r\nhelloXX0\r\n\r\n")),
        Reject,
    );
    add(
        "chunk-huge-size",
        Chunked,
        "chunk size of 24 hex digits (overflows 64 bits)",
        Whole(chunked(b"ffffffffffffffffffffffff\r\nhello\r\n0\r\n\r\n")),
        Reject,
    );
    add(
        "chunk-size-over-limit",
        Chunked,
        "chunk size 0x7fffffffffffffff (over LimitRequestBody)",
        Whole(chunked(b"7fffffffffffffff\r\nhello\r\n0\r\n\r\n")),
        Reject,
    );
    add(
        "chunk-negative-size",
        Chunked,
        "chunk size `-5`",
        Whole(chunked(b"-5\r\nhello\r\n0\r\n\r\n")),
        Reject,
    );
    add(
        "chunk-bad-extension",
        Chunked,
        "a control byte in a chunk extension",
        Whole(chunked(b"5;\x01\r\nhello\r\n0\r\n\r\n")),
        Reject,
    );
    add(
        "chunk-space-in-size",
        Chunked,
        "chunk size `5 5`",
        Whole(chunked(b"5 5\r\nhello\r\n0\r\n\r\n")),
        Reject,
    );
    add(
        "chunk-bad-trailer",
        Chunked,
        "a trailer line without a colon",
        Whole(chunked(b"5\r\nhello\r\n0\r\nnot a header\r\n\r\n")),
        RejectOrServe(served_with("\"body_len\":5")),
    );

    // Truncated bodies.
    add(
        "cl-truncated-half-close",
        Truncated,
        "Content-Length 1000, 10 bytes, then the sending half shut",
        HalfClose(cat(
            head("POST", &t("/trunc"), &[b"Content-Length: 1000"]),
            b"0123456789",
        )),
        Reject,
    );
    add(
        "chunk-truncated-half-close",
        Truncated,
        "a 16-byte chunk with 5 bytes, then the sending half shut",
        HalfClose(chunked(b"10\r\nhello")),
        Reject,
    );
    add(
        "chunk-no-last-chunk",
        Truncated,
        "chunks without the last (0) chunk, then the sending half shut",
        HalfClose(chunked(b"5\r\nhello\r\n")),
        Reject,
    );
    add(
        "cl-truncated-close",
        Truncated,
        "Content-Length 1000, 10 bytes, then the connection closed",
        Abandon(cat(
            head("POST", &t("/trunc"), &[b"Content-Length: 1000"]),
            b"0123456789",
        )),
        Reject,
    );
    add(
        "chunk-truncated-close",
        Truncated,
        "a 256-byte chunk with 3 bytes, then the connection closed",
        Abandon(chunked(b"100\r\nabc")),
        Reject,
    );

    // NUL and invalid UTF-8.
    add(
        "path-raw-nul",
        Bytes,
        "a raw NUL in the path",
        Whole(head("GET", &t("/a\0b"), &[])),
        Reject,
    );
    add(
        "path-pct-nul",
        Bytes,
        "%00 in the path",
        Whole(head("GET", &t("/a%00b"), &[])),
        Reject,
    );
    add(
        "query-raw-nul",
        Bytes,
        "a raw NUL in the query",
        Whole(head("GET", &t("/q?a=\0"), &[])),
        Reject,
    );
    add(
        "query-pct-nul",
        Bytes,
        "%00 in the query (the app gets it undecoded)",
        Whole(head("GET", &t("/q?a=%00b"), &[])),
        RejectOrServe(served_with("\"query_string\":\"a=%00b\"")),
    );
    add(
        "path-raw-invalid-utf8",
        Bytes,
        "raw bytes FF FE in the path (Apache passes them on; the app gets them as bytes)",
        Whole(head("GET", &t("/\u{0}"), &[]).replacen_bytes(b"\0", b"\xff\xfe")),
        RejectOrServe(served_with("\"path_info\":\"/\u{fffd}\u{fffd}\"")),
    );
    add(
        "path-pct-invalid-utf8",
        Bytes,
        "%FF%FE%C3%28 in the path (decoded, handed to the app as bytes)",
        Whole(head("GET", &t("/%ff%fe%c3%28"), &[])),
        RejectOrServe(served_with("\"path_info\":\"/\u{fffd}\u{fffd}\u{fffd}(\"")),
    );
    add(
        "query-raw-invalid-utf8",
        Bytes,
        "raw bytes FF C3 28 in the query (passed on as bytes)",
        Whole(head("GET", &t("/q?a=\u{0}"), &[]).replacen_bytes(b"\0", b"\xff\xc3\x28")),
        RejectOrServe(served_with("\"query_string\":\"a=\u{fffd}\u{fffd}(\"")),
    );
    add(
        "query-pct-invalid-utf8",
        Bytes,
        "%FF%C3%28 in the query",
        Whole(head("GET", &t("/q?a=%ff%c3%28"), &[])),
        RejectOrServe(served_with("\"query_string\":\"a=%ff%c3%28\"")),
    );
    add(
        "header-value-nul",
        Bytes,
        "a NUL in a header value",
        Whole(head("GET", &t("/h"), &[b"X-Nul: a\0b"])),
        Reject,
    );
    add(
        "header-value-invalid-utf8",
        Bytes,
        "bytes FF FE in a header value (obs-text)",
        Whole(head("GET", &t("/h"), &[b"X-Bin: \xff\xfe"])),
        RejectOrServe(served_with("\"x-bin\":\"\u{fffd}\u{fffd}\"")),
    );
    add(
        "header-name-invalid",
        Bytes,
        "byte FF in a header name",
        Whole(head("GET", &t("/h"), &[b"X-\xffY: 1"])),
        Reject,
    );
    add(
        "path-overlong-dotdot",
        Bytes,
        "overlong UTF-8 dots (%C0%AE%C0%AE/) in the path",
        Whole(head(
            "GET",
            &t("/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd"),
            &[],
        )),
        RejectOrServe(served_with("/etc/passwd\"")),
    );
    add(
        "path-dotdot",
        Bytes,
        "/../../../etc/passwd after the app's prefix",
        Whole(head("GET", &t("/../../../etc/passwd"), &[])),
        Reject,
    );
    add(
        "path-encoded-slash",
        Bytes,
        "%2F in the path (AllowEncodedSlashes Off)",
        Whole(head("GET", &t("/a%2fb"), &[])),
        Reject,
    );

    // Very large request line and headers.
    let big = "a".repeat(9000);
    add(
        "header-over-field-size",
        Headers,
        "a 9000-byte header (LimitRequestFieldSize 8190)",
        Whole(head("GET", &t("/h"), &[format!("X-Big: {big}").as_bytes()])),
        Reject,
    );
    add(
        "header-name-over-field-size",
        Headers,
        "a 9000-byte header name",
        Whole(head("GET", &t("/h"), &[format!("X-{big}: 1").as_bytes()])),
        Reject,
    );
    let many: Vec<String> = (0..150).map(|i| format!("X-H{i}: {i}")).collect();
    let many: Vec<&[u8]> = many.iter().map(|h| h.as_bytes()).collect();
    add(
        "too-many-headers",
        Headers,
        "150 headers (LimitRequestFields 100)",
        Whole(head("GET", &t("/h"), &many)),
        Reject,
    );
    add(
        "request-line-over-limit",
        Headers,
        "a 9000-byte request target (LimitRequestLine 8190)",
        Whole(head("GET", &t(&format!("/{big}")), &[])),
        Reject,
    );
    let fat: Vec<String> = (0..95)
        .map(|i| format!("X-F{i}: {}", "f".repeat(8100)))
        .collect();
    let fat: Vec<&[u8]> = fat.iter().map(|h| h.as_bytes()).collect();
    add(
        "headers-at-the-limits",
        Headers,
        "95 headers of 8100 bytes each (770 KB, every one within the limits)",
        Whole(head("GET", &t("/fat"), &fat)),
        RejectOrServe(served_with("\"x-f94\":\"fff")),
    );
    add(
        "folded-header",
        Headers,
        "an obs-fold continuation line (Apache unfolds it)",
        Whole(head("GET", &t("/h"), &[b"X-Fold: a\r\n b"])),
        RejectOrServe(served_with("\"x-fold\":\"a b\"")),
    );
    add(
        "missing-host",
        Headers,
        "HTTP/1.1 without Host",
        Whole(format!("GET {prefix}/h HTTP/1.1\r\nConnection: close\r\n\r\n").into_bytes()),
        Reject,
    );
    add(
        "double-host",
        Headers,
        "two Host headers",
        Whole(head("GET", &t("/h"), &[b"Host: other.example"])),
        Reject,
    );
    add(
        "http09-request",
        Headers,
        "an HTTP/0.9 request line (Apache's default Allow0.9)",
        Whole(format!("GET {prefix}/h\r\n\r\n").into_bytes()),
        Http09(served_with("\"path_info\":\"/h\"")),
    );
    add(
        "bad-version",
        Headers,
        "the version `HTTP/1.1x`",
        Whole(format!("GET {prefix}/h HTTP/1.1x\r\nHost: {host}\r\n\r\n").into_bytes()),
        Reject,
    );

    // Bodies over LimitRequestBody.
    let over = LIMIT_REQUEST_BODY + 34_464;
    add(
        "body-over-limit-cl",
        BodyLimit,
        "a 100000-byte body with Content-Length",
        Whole(cat(
            head(
                "POST",
                &t("/big"),
                &[format!("Content-Length: {over}").as_bytes()],
            ),
            &vec![b'b'; over],
        )),
        Reject,
    );
    let mut big_chunks = Vec::new();
    for _ in 0..over / 10_000 {
        big_chunks.extend_from_slice(b"2710\r\n");
        big_chunks.extend_from_slice(&[b'c'; 10_000]);
        big_chunks.extend_from_slice(b"\r\n");
    }
    big_chunks.extend_from_slice(b"0\r\n\r\n");
    add(
        "body-over-limit-chunked",
        BodyLimit,
        "a 100000-byte chunked body",
        Whole(chunked(&big_chunks)),
        Reject,
    );
    add(
        "body-over-limit-cl-unsent",
        BodyLimit,
        "Content-Length 10^15 and no body",
        Whole(head(
            "POST",
            &t("/big"),
            &[b"Content-Length: 1000000000000000"],
        )),
        Reject,
    );
    add(
        "body-over-limit-expect-continue",
        BodyLimit,
        "Content-Length 10^6 with Expect: 100-continue, no body",
        Whole(head(
            "POST",
            &t("/big"),
            &[b"Content-Length: 1000000", b"Expect: 100-continue"],
        )),
        Reject,
    );
    add(
        "cl-overflow",
        BodyLimit,
        "Content-Length of 30 digits",
        Whole(head(
            "POST",
            &t("/big"),
            &[b"Content-Length: 999999999999999999999999999999"],
        )),
        Reject,
    );

    // Slow and idle clients (mod_reqtimeout cuts them off).
    let padding = format!("X-Slow: {}", "s".repeat(200));
    add(
        "slow-headers",
        Slow,
        "the request head a byte every 100 ms",
        Drip {
            head: Vec::new(),
            drip: head("GET", &t("/slow"), &[padding.as_bytes()]),
            every: Duration::from_millis(100),
        },
        Reject,
    );
    add(
        "slow-body",
        Slow,
        "a 300-byte body a byte every 100 ms",
        Drip {
            head: head("POST", &t("/slow"), &[b"Content-Length: 300"]),
            drip: vec![b'x'; 300],
            every: Duration::from_millis(100),
        },
        Reject,
    );
    let mut slow_chunks = Vec::new();
    for _ in 0..60 {
        slow_chunks.extend_from_slice(b"1\r\nx\r\n");
    }
    add(
        "slow-chunked-body",
        Slow,
        "a chunked body a byte every 100 ms",
        Drip {
            head: head("POST", &t("/slow"), &[b"Transfer-Encoding: chunked"]),
            drip: slow_chunks,
            every: Duration::from_millis(100),
        },
        Reject,
    );
    // (A connection that sends nothing at all is not in the list: the
    // kernel holds it back from Apache until data comes, TCP_DEFER_ACCEPT.)
    add(
        "stall-after-first-byte",
        Slow,
        "one byte of the request line, then nothing",
        Drip {
            head: b"G".to_vec(),
            drip: Vec::new(),
            every: Duration::from_millis(100),
        },
        Reject,
    );
    add(
        "stall-in-headers",
        Slow,
        "the request line and a header, then nothing",
        Drip {
            head: format!("GET {prefix}/stall HTTP/1.1\r\nHost: {host}\r\n").into_bytes(),
            drip: Vec::new(),
            every: Duration::from_millis(100),
        },
        Reject,
    );

    // Request smuggling: the body as Content-Length counts it holds a
    // second request, which a reader going by Transfer-Encoding would see.
    let smuggled = format!("GET {prefix}/smuggled HTTP/1.1\r\nHost: {host}\r\n\r\n");
    let te_body = format!("0\r\n\r\n{smuggled}");
    let ka = |headers: &[&[u8]], body: &[u8]| {
        let mut all: Vec<&[u8]> = vec![b"Connection: keep-alive"];
        all.extend_from_slice(headers);
        cat(wire::head("POST", &t("/smuggle"), host, &all), body)
    };
    let cl = format!("Content-Length: {}", te_body.len());
    add(
        "cl-and-te",
        Smuggling,
        "Content-Length and Transfer-Encoding: chunked, a request hidden after the last chunk",
        Whole(ka(
            &[cl.as_bytes(), b"Transfer-Encoding: chunked"],
            te_body.as_bytes(),
        )),
        OneResponse(Some(served_with("\"body_len\":0"))),
    );
    add(
        "te-and-cl",
        Smuggling,
        "the same, Transfer-Encoding first, in capitals",
        Whole(ka(
            &[b"Transfer-Encoding: CHUNKED", cl.as_bytes()],
            te_body.as_bytes(),
        )),
        OneResponse(Some(served_with("\"body_len\":0"))),
    );
    let cl_body = format!("hello{smuggled}");
    add(
        "dup-cl-different",
        Smuggling,
        "Content-Length 5 and Content-Length N, a request hidden after 5 bytes",
        Whole(ka(
            &[
                b"Content-Length: 5",
                format!("Content-Length: {}", cl_body.len()).as_bytes(),
            ],
            cl_body.as_bytes(),
        )),
        OneResponse(None),
    );
    add(
        "dup-cl-same",
        Smuggling,
        "Content-Length 5 twice",
        Whole(ka(&[b"Content-Length: 5", b"Content-Length: 5"], b"hello")),
        OneResponse(Some(served_with("\"body_len\":5"))),
    );
    add(
        "cl-list",
        Smuggling,
        "Content-Length `5, 30`",
        Whole(ka(&[b"Content-Length: 5, 30"], cl_body.as_bytes())),
        OneResponse(None),
    );
    add(
        "cl-plus-sign",
        Smuggling,
        "Content-Length `+5`",
        Whole(ka(&[b"Content-Length: +5"], cl_body.as_bytes())),
        OneResponse(None),
    );
    add(
        "cl-junk",
        Smuggling,
        "Content-Length `5x`",
        Whole(ka(&[b"Content-Length: 5x"], cl_body.as_bytes())),
        OneResponse(None),
    );
    add(
        "cl-negative",
        Smuggling,
        "Content-Length `-1`",
        Whole(ka(&[b"Content-Length: -1"], cl_body.as_bytes())),
        OneResponse(None),
    );
    add(
        "te-space-before-colon",
        Smuggling,
        "`Transfer-Encoding : chunked` with a Content-Length",
        Whole(ka(
            &[b"Transfer-Encoding : chunked", cl.as_bytes()],
            te_body.as_bytes(),
        )),
        OneResponse(None),
    );
    add(
        "te-obs-fold",
        Smuggling,
        "Transfer-Encoding folded onto a second line, with a Content-Length",
        Whole(ka(
            &[b"Transfer-Encoding:\r\n chunked", cl.as_bytes()],
            te_body.as_bytes(),
        )),
        OneResponse(Some(served_with("\"body_len\":0"))),
    );
    add(
        "te-chunked-twice",
        Smuggling,
        "Transfer-Encoding `chunked, chunked` with a Content-Length",
        Whole(ka(
            &[b"Transfer-Encoding: chunked, chunked", cl.as_bytes()],
            te_body.as_bytes(),
        )),
        OneResponse(Some(served_with("\"body_len\":0"))),
    );
    add(
        "te-nul",
        Smuggling,
        "Transfer-Encoding `chunked\\0` with a Content-Length",
        Whole(ka(
            &[b"Transfer-Encoding: chunked\0", cl.as_bytes()],
            te_body.as_bytes(),
        )),
        OneResponse(None),
    );
    add(
        "bare-lf",
        Smuggling,
        "lines ended by a bare LF",
        Whole(
            format!("GET {prefix}/lf HTTP/1.1\nHost: {host}\nConnection: close\n\n").into_bytes(),
        ),
        RejectOrServe(served_with("/lf\"")),
    );
    add(
        "bare-cr",
        Smuggling,
        "a bare CR inside a header value",
        Whole(head(
            "GET",
            &t("/cr"),
            &[b"X-CR: a\rTransfer-Encoding: chunked"],
        )),
        Reject,
    );
    out
}

// app-sdk's default limits (`FormLimits::default()`, `DEFAULT_JSON_LIMIT`),
// which `examples/simple` keeps.
const FORM_BODY: usize = 16 << 20;
const FORM_MEMORY: usize = 2 << 20;
const FORM_FIELDS: usize = 1000;
const FORM_FIELD_SIZE: usize = 1 << 20;
const FORM_HEADER_SIZE: usize = 8 << 10;
const JSON_LIMIT: usize = 1 << 20;

/// The boundary of the multipart bodies below (as [`MULTIPART`] gives it).
const BOUNDARY: &str = "XX";
/// The `Content-Type` of the multipart bodies below.
const MULTIPART: &str = "multipart/form-data; boundary=XX";

/// One part: its header block, then its data.
fn part(headers: &str, data: &[u8]) -> Vec<u8> {
    [
        format!("--{BOUNDARY}\r\n{headers}\r\n\r\n").as_bytes(),
        data,
        b"\r\n",
    ]
    .concat()
}

/// One non-file field.
fn field(name: &str, data: &[u8]) -> Vec<u8> {
    part(
        &format!("Content-Disposition: form-data; name=\"{name}\""),
        data,
    )
}

/// `parts` and the closing delimiter.
fn closed(parts: &[Vec<u8>]) -> Vec<u8> {
    let mut body = parts.concat();
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

/// `body` in chunks of `size` bytes, then the last chunk.
fn chunked(body: &[u8], size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + body.len() / size * 10 + 5);
    for chunk in body.chunks(size) {
        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// `bytes` in base64url without padding, as app-sdk's session cookies
/// carry their payload and tag.
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len() * 4 / 3 + 3);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

/// `len` arbitrary but fixed bytes (all values), for forged tags and
/// ciphertexts.
fn arbitrary_bytes(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 151 + 7) as u8).collect()
}

/// A signed session cookie in app-sdk's format (`s1.` payload `.` tag)
/// granting `{"login": true}` until 2100, with a tag of `tag_len` bytes
/// made up without the key: what a client forging a login would send.
fn forged_signed_session(tag_len: usize) -> String {
    let mut payload = 4_102_444_800u64.to_be_bytes().to_vec();
    payload.extend_from_slice(br#"{"login":true}"#);
    format!(
        "s1.{}.{}",
        base64url(&payload),
        base64url(&arbitrary_bytes(tag_len))
    )
}

/// What app-sdk answers with the status and the message of its error.
fn answer(status: u16, holding: &[&str]) -> Expect {
    Expect::Answer {
        status,
        holding: holding.iter().map(|h| s(h)).collect(),
    }
}

/// The app-level cases against `examples/simple` at `prefix`
/// ([`SIMPLE_EMBEDDED`] or [`SIMPLE_DAEMON`]), with `host` for the `Host`
/// header: forms (`POST /test/upload`, `/test/form`, `/login`), JSON
/// (`POST /test/json`) and session cookies (`GET /private`). Each gets the
/// answer app-sdk documents: a malformed body 400, one over a limit 413,
/// one of the wrong type 415, and a cookie that is not a valid session the
/// redirect to `/login` of a client without one.
pub fn app_cases(prefix: &str, host: &str) -> Vec<Case> {
    let mut list = AppCases {
        prefix,
        host,
        cases: Vec::new(),
    };
    list.multipart_framing();
    list.multipart_parts();
    list.form_limits();
    list.urlencoded();
    list.json();
    list.sessions();
    list.cases
}

/// The app-level cases of one mode, as they are made.
struct AppCases<'a> {
    prefix: &'a str,
    host: &'a str,
    cases: Vec<Case>,
}

impl AppCases<'_> {
    fn add(
        &mut self,
        name: &str,
        category: Category,
        what: &'static str,
        raw: Vec<u8>,
        expect: Expect,
    ) {
        self.cases.push(Case {
            id: format!("{}/{name}", self.prefix.trim_start_matches('/')),
            category,
            what,
            sending: Sending::Whole(raw),
            expect,
        });
    }

    /// A request for `path` under the app with `headers` and `body`.
    fn request(&self, method: &str, path: &str, headers: &[&[u8]], body: &[u8]) -> Vec<u8> {
        let mut all: Vec<&[u8]> = vec![b"Connection: close"];
        all.extend_from_slice(headers);
        let target = format!("{}{path}", self.prefix);
        [
            wire::head(method, target.as_bytes(), self.host, &all),
            body.to_vec(),
        ]
        .concat()
    }

    /// A POST of `body` (with its `Content-Length`) as `content_type`.
    fn post(&self, path: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
        let content_type = format!("Content-Type: {content_type}");
        let length = format!("Content-Length: {}", body.len());
        self.request(
            "POST",
            path,
            &[content_type.as_bytes(), length.as_bytes()],
            body,
        )
    }

    /// A multipart upload to `/test/upload`.
    fn upload(&self, content_type: &str, body: &[u8]) -> Vec<u8> {
        self.post("/test/upload", content_type, body)
    }

    /// `GET /private` with `cookie` as its `Cookie` header.
    fn private_with(&self, cookie: &[u8]) -> Vec<u8> {
        let header = [b"Cookie: ".as_slice(), cookie].concat();
        self.request("GET", "/private", &[&header], b"")
    }

    /// Boundaries missing, invalid or broken, and bodies cut short.
    fn multipart_framing(&mut self) {
        use Category::Forms;
        let one_field = closed(&[field("a", b"1")]);
        self.add(
            "multipart-no-boundary",
            Forms,
            "multipart/form-data without a boundary parameter",
            self.upload("multipart/form-data", &one_field),
            answer(400, &["the multipart body has no boundary"]),
        );
        self.add(
            "multipart-empty-boundary",
            Forms,
            "an empty boundary parameter",
            self.upload("multipart/form-data; boundary=\"\"", &one_field),
            answer(400, &["is not valid"]),
        );
        let long = format!("multipart/form-data; boundary={}", "b".repeat(71));
        self.add(
            "multipart-boundary-too-long",
            Forms,
            "a 71-character boundary (RFC 2046 allows 70)",
            self.upload(&long, &one_field),
            answer(400, &["is not valid"]),
        );
        self.add(
            "multipart-boundary-bad-chars",
            Forms,
            "a boundary with characters RFC 2046 does not allow (`<>{}`)",
            self.upload("multipart/form-data; boundary=<{X}>", &one_field),
            answer(400, &["is not valid"]),
        );
        self.add(
            "multipart-boundary-absent",
            Forms,
            "a boundary that never appears in the body",
            self.upload("multipart/form-data; boundary=never-there", &one_field),
            answer(
                400,
                &["the multipart body ends before its closing boundary"],
            ),
        );
        self.add(
            "multipart-garbage-boundary-line",
            Forms,
            "a boundary line followed by garbage instead of CRLF",
            self.upload(
                MULTIPART,
                b"--XXgarbage\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--XX--\r\n",
            ),
            answer(400, &["a multipart boundary is not followed by CRLF"]),
        );
        self.add(
            "multipart-bare-lf",
            Forms,
            "boundary and header lines ended by a bare LF",
            self.upload(
                MULTIPART,
                b"--XX\nContent-Disposition: form-data; name=\"a\"\n\n1\n--XX--\n",
            ),
            answer(400, &["a multipart boundary is not followed by CRLF"]),
        );
        self.add(
            "multipart-truncated-part",
            Forms,
            "a body that ends in the middle of a part's data (no closing delimiter)",
            self.upload(
                MULTIPART,
                b"--XX\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nhalf a val",
            ),
            answer(
                400,
                &["the multipart body ends before its closing boundary"],
            ),
        );
        self.add(
            "multipart-truncated-headers",
            Forms,
            "a body that ends in the middle of a part's header block",
            self.upload(MULTIPART, b"--XX\r\nContent-Disposition: form-da"),
            answer(
                400,
                &["the multipart body ends before its closing boundary"],
            ),
        );
        self.add(
            "multipart-truncated-delimiter",
            Forms,
            "a body that ends right after a delimiter (neither a part nor `--`)",
            self.upload(MULTIPART, &[field("a", b"1").as_slice(), b"--XX"].concat()),
            answer(
                400,
                &["the multipart body ends before its closing boundary"],
            ),
        );
        self.add(
            "multipart-empty-body",
            Forms,
            "multipart/form-data with an empty body",
            self.upload(MULTIPART, b""),
            answer(
                400,
                &["the multipart body ends before its closing boundary"],
            ),
        );
        let truncated = self.post(
            "/login",
            MULTIPART,
            b"--XX\r\nContent-Disposition: form-data; name=\"passwd\"\r\n\r\nSecret",
        );
        self.add(
            "login-truncated-multipart",
            Forms,
            "POST /login with a truncated multipart body",
            truncated,
            answer(
                400,
                &["the multipart body ends before its closing boundary"],
            ),
        );
    }

    /// Part header blocks that do not parse, or are too large.
    fn multipart_parts(&mut self) {
        use Category::Forms;
        // One part whose header block does not parse, and app-sdk's answer.
        let bad_headers: [(&str, &'static str, &str, &str); 5] = [
            (
                "multipart-header-without-colon",
                "a part header line without a colon",
                "Content-Disposition: form-data; name=\"a\"\r\nno colon here",
                "a multipart part has a header line without a colon",
            ),
            (
                "multipart-header-nul",
                "a NUL in a part's header value",
                "Content-Disposition: form-data; name=\"a\0b\"",
                "a multipart part has an invalid header value",
            ),
            (
                "multipart-no-disposition",
                "a part without Content-Disposition",
                "Content-Type: text/plain",
                "a multipart part has no Content-Disposition",
            ),
            (
                "multipart-not-form-data",
                "a part whose Content-Disposition is `attachment`",
                "Content-Disposition: attachment; name=\"a\"",
                "a multipart part is not form-data",
            ),
            (
                "multipart-no-name",
                "a form-data part without a name",
                "Content-Disposition: form-data; filename=\"a\"",
                "a multipart part has no name",
            ),
        ];
        for (name, what, headers, message) in bad_headers {
            self.add(
                name,
                Forms,
                what,
                self.upload(MULTIPART, &closed(&[part(headers, b"1")])),
                answer(400, &[message]),
            );
        }
        let big_header = format!(
            "Content-Disposition: form-data; name=\"a\"\r\nX-Pad: {}",
            "p".repeat(FORM_HEADER_SIZE)
        );
        self.add(
            "multipart-huge-part-header",
            Forms,
            "a part header block of 8 KiB and more (app-sdk's limit 8 KiB)",
            self.upload(MULTIPART, &closed(&[part(&big_header, b"1")])),
            answer(413, &["a multipart header block is larger than 8192 bytes"]),
        );
        let endless_header = [
            b"--XX\r\nContent-Disposition: form-data; name=\"a\"\r\nX-Pad: ".as_slice(),
            &vec![b'p'; 1 << 20],
        ]
        .concat();
        self.add(
            "multipart-endless-part-header",
            Forms,
            "a part header block of 1 MiB that never ends",
            self.upload(MULTIPART, &endless_header),
            answer(413, &["a multipart header block is larger than 8192 bytes"]),
        );
        let traversal = closed(&[part(
            "Content-Disposition: form-data; name=\"f\"; filename=\"../../etc/passwd\"\r\n\
             Content-Type: text/plain",
            b"hello",
        )]);
        self.add(
            "multipart-filename-traversal",
            Forms,
            "a file named `../../etc/passwd` (valid: the app shows its safe name)",
            self.upload(MULTIPART, &traversal),
            answer(200, &["f: passwd (text/plain), 5 bytes"]),
        );
    }

    /// Multipart bodies over app-sdk's form limits.
    fn form_limits(&mut self) {
        use Category::Forms;
        let over = closed(&[field("big", &vec![b'f'; FORM_FIELD_SIZE + 1])]);
        self.add(
            "multipart-field-over-limit",
            Forms,
            "a field of 1 MiB + 1 byte (app-sdk's field limit 1 MiB)",
            self.upload(MULTIPART, &over),
            answer(413, &[&format!("is larger than {FORM_FIELD_SIZE} bytes")]),
        );
        // Three fields each under the field limit, together over the
        // memory limit: the third may hold only what is left of it.
        let field_size = 1_000_000;
        let fields: Vec<Vec<u8>> = ["a", "b", "c"]
            .iter()
            .map(|name| field(name, &vec![b'm'; field_size]))
            .collect();
        let left = FORM_MEMORY - 2 * field_size;
        self.add(
            "multipart-fields-over-memory",
            Forms,
            "three fields of 1,000,000 bytes (app-sdk's memory limit 2 MiB)",
            self.upload(MULTIPART, &closed(&fields)),
            answer(413, &[&format!("is larger than {left} bytes")]),
        );
        let many: Vec<Vec<u8>> = (0..=FORM_FIELDS).map(|_| field("f", b"v")).collect();
        self.add(
            "multipart-too-many-parts",
            Forms,
            "1001 parts (app-sdk's limit 1000)",
            self.upload(MULTIPART, &closed(&many)),
            answer(
                413,
                &[&format!("the form has more than {FORM_FIELDS} fields")],
            ),
        );
        let announced = self.request(
            "POST",
            "/test/upload",
            &[
                format!("Content-Type: {MULTIPART}").as_bytes(),
                b"Content-Length: 1000000000000",
            ],
            b"",
        );
        self.add(
            "multipart-announced-over-limit",
            Forms,
            "Content-Length 10^12 and no body (app-sdk's body limit 16 MiB)",
            announced,
            answer(
                413,
                &[&format!("the body is larger than {FORM_BODY} bytes")],
            ),
        );
    }

    /// Urlencoded bodies that do not decode or are over the limits, and a
    /// body that is no form at all.
    fn urlencoded(&mut self) {
        use Category::Forms;
        const URLENCODED: &str = "application/x-www-form-urlencoded";
        self.add(
            "urlencoded-bad-escape",
            Forms,
            "an urlencoded form with the escape `%zz`",
            self.post("/test/form", URLENCODED, b"a=%zz"),
            answer(400, &["a form value holds a bad percent escape"]),
        );
        self.add(
            "urlencoded-invalid-utf8",
            Forms,
            "an urlencoded form value `%ff%fe` (not UTF-8)",
            self.post("/test/form", URLENCODED, b"a=%ff%fe"),
            answer(400, &["a form value is not UTF-8"]),
        );
        let pairs = vec!["a=1"; FORM_FIELDS + 1].join("&");
        self.add(
            "urlencoded-too-many-pairs",
            Forms,
            "1001 urlencoded pairs (app-sdk's limit 1000)",
            self.post("/test/form", URLENCODED, pairs.as_bytes()),
            answer(
                413,
                &[&format!("the form has more than {FORM_FIELDS} fields")],
            ),
        );
        let big = [b"a=".as_slice(), &vec![b'u'; FORM_MEMORY]].concat();
        self.add(
            "urlencoded-over-memory",
            Forms,
            "an urlencoded body of 2 MiB + 2 bytes (app-sdk's limit 2 MiB)",
            self.post("/test/form", URLENCODED, &big),
            answer(
                413,
                &[&format!("the body is larger than {FORM_MEMORY} bytes")],
            ),
        );
        self.add(
            "form-wrong-type",
            Forms,
            "POST /test/form with a text/plain body",
            self.post("/test/form", "text/plain", b"a=1"),
            answer(415, &["the body is not a form but text/plain"]),
        );
    }

    /// JSON that does not parse, nests too deep, is too large or is not
    /// JSON by its type.
    fn json(&mut self) {
        use Category::Json;
        let json = |this: &Self, body: &[u8]| this.post("/test/json", "application/json", body);
        let invalid = || answer(400, &["invalid JSON"]);
        let too_deep = || answer(400, &["invalid JSON", "recursion limit exceeded"]);
        self.add(
            "json-invalid",
            Json,
            "single-quoted JSON",
            json(self, b"{'a': 1}"),
            invalid(),
        );
        self.add(
            "json-truncated",
            Json,
            "JSON cut short",
            json(self, br#"{"a": [1, 2"#),
            invalid(),
        );
        self.add(
            "json-empty",
            Json,
            "an empty application/json body",
            json(self, b""),
            invalid(),
        );
        self.add(
            "json-trailing-garbage",
            Json,
            "a JSON value followed by garbage",
            json(self, br#"{"a": 1} xyz"#),
            invalid(),
        );
        self.add(
            "json-deep-open",
            Json,
            "100,000 `[` (nesting far past any sane depth)",
            json(self, &vec![b'['; 100_000]),
            too_deep(),
        );
        let closed_deep = [vec![b'['; 100_000], vec![b']'; 100_000]].concat();
        self.add(
            "json-deep-valid",
            Json,
            "100,000 nested arrays, every one closed",
            json(self, &closed_deep),
            too_deep(),
        );
        self.add(
            "json-deep-objects",
            Json,
            "50,000 nested objects `{\"a\":`",
            json(self, "{\"a\":".repeat(50_000).as_bytes()),
            too_deep(),
        );
        self.add(
            "json-invalid-utf8",
            Json,
            "bytes FF FE inside a JSON string",
            json(self, b"\"\xff\xfe\""),
            invalid(),
        );
        self.add(
            "json-lone-surrogate",
            Json,
            "a lone UTF-16 surrogate escape `\\ud800`",
            json(self, br#""\ud800""#),
            invalid(),
        );
        self.add(
            "json-number-out-of-range",
            Json,
            "the number 1e999999",
            json(self, b"1e999999"),
            invalid(),
        );
        let over = [b"\"".as_slice(), &vec![b'j'; JSON_LIMIT], b"\""].concat();
        self.add(
            "json-over-limit",
            Json,
            "a JSON string of 1 MiB + 2 bytes (app-sdk's limit 1 MiB)",
            json(self, &over),
            answer(
                413,
                &[&format!("the body is larger than {JSON_LIMIT} bytes")],
            ),
        );
        // Without a Content-Length the app reads up to the limit before it
        // can refuse, and leaves the rest unread.
        let unannounced = self.request(
            "POST",
            "/test/json",
            &[
                b"Content-Type: application/json",
                b"Transfer-Encoding: chunked",
            ],
            &chunked(&over, 64 << 10),
        );
        self.add(
            "json-over-limit-chunked",
            Json,
            "the same string chunked, without a Content-Length",
            unannounced,
            answer(
                413,
                &[&format!("the body is larger than {JSON_LIMIT} bytes")],
            ),
        );
        self.add(
            "json-wrong-type",
            Json,
            "JSON sent as text/plain",
            self.post("/test/json", "text/plain", b"{}"),
            answer(415, &["the body is not JSON but text/plain"]),
        );
        let untyped = self.request("POST", "/test/json", &[b"Content-Length: 2"], b"{}");
        self.add(
            "json-no-type",
            Json,
            "JSON without a Content-Type",
            untyped,
            answer(415, &["the body is not JSON (no Content-Type)"]),
        );
    }

    /// Session cookies that are not a valid session, each of which must
    /// leave the client without one.
    fn sessions(&mut self) {
        use Category::Sessions;
        let login = format!("{}/login", self.prefix);
        let anonymous = || Expect::RedirectTo(login.clone());
        let forged = forged_signed_session(32);
        self.add(
            "session-garbage",
            Sessions,
            "a session cookie `garbage`",
            self.private_with(b"session=garbage"),
            anonymous(),
        );
        self.add(
            "session-forged-signature",
            Sessions,
            "a signed session granting a login, its tag made up without the key",
            self.private_with(format!("session={forged}").as_bytes()),
            anonymous(),
        );
        self.add(
            "session-short-tag",
            Sessions,
            "a signed session with a 31-byte tag",
            self.private_with(format!("session={}", forged_signed_session(31)).as_bytes()),
            anonymous(),
        );
        self.add(
            "session-bad-base64",
            Sessions,
            "a signed session whose payload and tag are not base64url",
            self.private_with(b"session=s1.!!!!.????"),
            anonymous(),
        );
        let sealed = format!("session=e1.{}", base64url(&arbitrary_bytes(80)));
        self.add(
            "session-encrypted-random",
            Sessions,
            "an encrypted session of 80 arbitrary bytes (nonce and ciphertext)",
            self.private_with(sealed.as_bytes()),
            anonymous(),
        );
        let short = format!("session=e1.{}", base64url(&arbitrary_bytes(10)));
        self.add(
            "session-encrypted-short",
            Sessions,
            "an encrypted session shorter than its nonce",
            self.private_with(short.as_bytes()),
            anonymous(),
        );
        let long = format!(
            "session=s1.{}.{}",
            base64url(&arbitrary_bytes(6000)),
            base64url(&arbitrary_bytes(32))
        );
        self.add(
            "session-over-long",
            Sessions,
            "a signed session cookie of 8 KB (app-sdk reads at most 4096 bytes)",
            self.private_with(long.as_bytes()),
            anonymous(),
        );
        self.add(
            "session-odd-characters",
            Sessions,
            "a session cookie of quotes, separators and bytes >= 0x80",
            self.private_with(b"session=\"s1.a b\\,c\xff\xfe\"; session=\xc3\x28=="),
            anonymous(),
        );
        self.add(
            "session-control-byte",
            Sessions,
            "a control byte (0x01) in the session cookie",
            self.private_with(b"session=s1.\x01"),
            Expect::Reject,
        );
        let many = vec![format!("session={forged}"); 60].join("; ");
        self.add(
            "session-many-forged",
            Sessions,
            "60 forged session cookies in one header",
            self.private_with(many.as_bytes()),
            anonymous(),
        );
    }
}

/// PoorWSGI's 400 page (its `bad_request` handler, which shows the error
/// in a `<pre>`) holding `message`.
fn poorwsgi_400(message: &str) -> Expect {
    answer(400, &["400 - Bad Request", message])
}

/// The cases against the PoorWSGI app at `prefix` ([`PY_DAEMON`]), with
/// `host` for the `Host` header: forms (`POST /form`), uploads
/// (`POST /upload`), JSON (`POST /json`) and odd headers (any other path,
/// which describes the request).
///
/// PoorWSGI answers its 400 page to what it cannot parse, and to what its
/// parsers made of the input when the route finds it wanting. Its parsers
/// are lenient: a body cut short, bare LFs or a part header line without a
/// colon still give the fields as far as they came, and the route serves
/// them (200). Bodies over `LimitRequestBody` are Apache's 413.
pub fn python_cases(prefix: &str, host: &str) -> Vec<Case> {
    let mut list = AppCases {
        prefix,
        host,
        cases: Vec::new(),
    };
    list.poorwsgi_forms();
    list.poorwsgi_json();
    list.poorwsgi_headers();
    list.cases
}

impl AppCases<'_> {
    /// Multipart and urlencoded bodies to PoorWSGI's form parser.
    fn poorwsgi_forms(&mut self) {
        use Category::PyForms;
        let form =
            |this: &Self, content_type: &str, body: &[u8]| this.post("/form", content_type, body);
        let one_field = closed(&[field("name", b"1")]);
        let no_name = || poorwsgi_400("the form has no field name");
        let served = |name: &str| answer(200, &[&format!("\"name\": \"{name}\"")]);
        self.add(
            "py-multipart-no-boundary",
            PyForms,
            "multipart/form-data without a boundary parameter",
            form(self, "multipart/form-data", &one_field),
            poorwsgi_400("Invalid boundary in multipart form"),
        );
        self.add(
            "py-multipart-empty-boundary",
            PyForms,
            "an empty boundary parameter",
            form(self, "multipart/form-data; boundary=\"\"", &one_field),
            poorwsgi_400("Invalid boundary in multipart form"),
        );
        let long = format!("multipart/form-data; boundary={}", "b".repeat(202));
        self.add(
            "py-multipart-boundary-too-long",
            PyForms,
            "a 202-character boundary (PoorWSGI takes at most 201)",
            form(self, &long, &one_field),
            poorwsgi_400("Invalid boundary in multipart form"),
        );
        self.add(
            "py-multipart-boundary-trailing-space",
            PyForms,
            "a boundary that ends in a space",
            form(self, "multipart/form-data; boundary=\"XX \"", &one_field),
            poorwsgi_400("Invalid boundary in multipart form"),
        );
        self.add(
            "py-multipart-nested-no-boundary",
            PyForms,
            "a part that is itself multipart, without a boundary",
            form(
                self,
                MULTIPART,
                &closed(&[part(
                    "Content-Disposition: form-data; name=\"name\"\r\n\
                     Content-Type: multipart/mixed",
                    b"x",
                )]),
            ),
            poorwsgi_400("Invalid boundary in multipart form"),
        );
        self.add(
            "py-multipart-nested",
            PyForms,
            "a part that is itself multipart (its value is a list of fields, not text)",
            form(
                self,
                MULTIPART,
                &closed(&[part(
                    "Content-Disposition: form-data; name=\"name\"\r\n\
                     Content-Type: multipart/mixed; boundary=YY",
                    b"--YY\r\n\r\nx\r\n",
                )]),
            ),
            poorwsgi_400("a field is not text"),
        );
        self.add(
            "py-multipart-boundary-absent",
            PyForms,
            "a boundary that never appears in the body",
            form(
                self,
                "multipart/form-data; boundary=never-there",
                &one_field,
            ),
            no_name(),
        );
        self.add(
            "py-multipart-garbage-boundary-line",
            PyForms,
            "a boundary line followed by garbage instead of CRLF",
            form(
                self,
                MULTIPART,
                b"--XXgarbage\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n1\r\n--XX--\r\n",
            ),
            no_name(),
        );
        self.add(
            "py-multipart-truncated-headers",
            PyForms,
            "a body that ends in the middle of a part's header block",
            form(self, MULTIPART, b"--XX\r\nContent-Disposition: form-da"),
            no_name(),
        );
        self.add(
            "py-multipart-empty-body",
            PyForms,
            "multipart/form-data with an empty body",
            form(self, MULTIPART, b""),
            no_name(),
        );
        self.add(
            "py-multipart-header-nul",
            PyForms,
            "a NUL in a part's name",
            form(
                self,
                MULTIPART,
                &closed(&[part(
                    "Content-Disposition: form-data; name=\"na\0me\"",
                    b"1",
                )]),
            ),
            no_name(),
        );
        self.add(
            "py-multipart-no-disposition",
            PyForms,
            "a part without Content-Disposition",
            form(
                self,
                MULTIPART,
                &closed(&[part("Content-Type: text/plain", b"1")]),
            ),
            no_name(),
        );
        self.add(
            "py-multipart-no-name",
            PyForms,
            "a form-data part without a name",
            form(
                self,
                MULTIPART,
                &closed(&[part("Content-Disposition: form-data; filename=\"a\"", b"1")]),
            ),
            no_name(),
        );
        // What PoorWSGI's lenient parser accepts.
        self.add(
            "py-multipart-truncated-part",
            PyForms,
            "a body that ends in a part's data (lenient: the field as far as it came)",
            form(
                self,
                MULTIPART,
                b"--XX\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nhalf a val",
            ),
            served("half a val"),
        );
        self.add(
            "py-multipart-truncated-delimiter",
            PyForms,
            "a body that ends right after a delimiter (lenient)",
            form(
                self,
                MULTIPART,
                &[field("name", b"1").as_slice(), b"--XX"].concat(),
            ),
            served("1"),
        );
        self.add(
            "py-multipart-bare-lf",
            PyForms,
            "boundary and header lines ended by a bare LF (lenient)",
            form(
                self,
                MULTIPART,
                b"--XX\nContent-Disposition: form-data; name=\"name\"\n\n1\n--XX--\n",
            ),
            served("1"),
        );
        self.add(
            "py-multipart-header-without-colon",
            PyForms,
            "a part header line without a colon (lenient)",
            form(
                self,
                MULTIPART,
                &closed(&[part(
                    "Content-Disposition: form-data; name=\"name\"\r\nno colon here",
                    b"1",
                )]),
            ),
            served("1"),
        );
        self.add(
            "py-multipart-attachment",
            PyForms,
            "a part whose Content-Disposition is `attachment` (lenient)",
            form(
                self,
                MULTIPART,
                &closed(&[part("Content-Disposition: attachment; name=\"name\"", b"1")]),
            ),
            served("1"),
        );
        let big_header = format!(
            "Content-Disposition: form-data; name=\"name\"\r\nX-Pad: {}",
            "p".repeat(60_000)
        );
        self.add(
            "py-multipart-huge-part-header",
            PyForms,
            "a part header of 60,000 bytes (PoorWSGI has no limit of its own)",
            form(self, MULTIPART, &closed(&[part(&big_header, b"1")])),
            served("1"),
        );
        let announced = self.request(
            "POST",
            "/form",
            &[
                format!("Content-Type: {MULTIPART}").as_bytes(),
                b"Content-Length: 1000000000000",
            ],
            b"",
        );
        self.add(
            "py-multipart-announced-over-limit",
            PyForms,
            "Content-Length 10^12 and no body (Apache's LimitRequestBody)",
            announced,
            Expect::Reject,
        );
        let over = closed(&[field("name", &vec![b'f'; LIMIT_REQUEST_BODY])]);
        self.add(
            "py-multipart-over-limit",
            PyForms,
            "a multipart body over LimitRequestBody",
            form(self, MULTIPART, &over),
            Expect::Reject,
        );

        // Uploads.
        let upload =
            |this: &Self, parts: &[Vec<u8>]| this.post("/upload", MULTIPART, &closed(parts));
        self.add(
            "py-upload-filename-traversal",
            PyForms,
            "a file named `../../etc/passwd` (the app shows the name; it writes no file)",
            upload(
                self,
                &[part(
                    "Content-Disposition: form-data; name=\"file\"; filename=\"../../etc/passwd\"\r\n\
                     Content-Type: text/plain",
                    b"hello",
                )],
            ),
            answer(200, &["\"filename\": \"../../etc/passwd\"", "\"size\": 5"]),
        );
        self.add(
            "py-upload-not-a-file",
            PyForms,
            "the file field sent as a plain field",
            upload(self, &[field("file", b"x")]),
            poorwsgi_400("the field file is not one file"),
        );
        let file = |name: &str| {
            part(
                &format!("Content-Disposition: form-data; name=\"file\"; filename=\"{name}\""),
                b"1",
            )
        };
        self.add(
            "py-upload-two-files",
            PyForms,
            "two files in the one file field",
            upload(self, &[file("a"), file("b")]),
            poorwsgi_400("the field file is not one file"),
        );

        // Urlencoded, and no form at all.
        const URLENCODED: &str = "application/x-www-form-urlencoded";
        self.add(
            "py-urlencoded-bad-escape",
            PyForms,
            "an urlencoded form with the escape `%zz` (kept as it is)",
            form(self, URLENCODED, b"name=%zz"),
            served("%zz"),
        );
        self.add(
            "py-urlencoded-invalid-utf8",
            PyForms,
            "an urlencoded value `%ff%fe` (not UTF-8: replaced)",
            form(self, URLENCODED, b"name=%ff%fe"),
            served("\\ufffd\\ufffd"),
        );
        let pairs = vec!["name=1"; 1001].join("&");
        self.add(
            "py-urlencoded-many-pairs",
            PyForms,
            "1001 urlencoded pairs",
            form(self, URLENCODED, pairs.as_bytes()),
            served("1"),
        );
        self.add(
            "py-urlencoded-no-equals",
            PyForms,
            "an urlencoded body `name` without `=` (a blank value, dropped)",
            form(self, URLENCODED, b"name"),
            no_name(),
        );
        self.add(
            "py-form-wrong-type",
            PyForms,
            "POST /form with a text/plain body",
            form(self, "text/plain", b"name=1"),
            no_name(),
        );
        let untyped = self.request("POST", "/form", &[b"Content-Length: 6"], b"name=1");
        self.add(
            "py-form-no-type",
            PyForms,
            "POST /form without a Content-Type",
            untyped,
            no_name(),
        );
        let chunked_form = self.request(
            "POST",
            "/form",
            &[
                format!("Content-Type: {URLENCODED}").as_bytes(),
                b"Transfer-Encoding: chunked",
            ],
            &chunked(b"name=1", 3),
        );
        self.add(
            "py-form-chunked",
            PyForms,
            "a chunked form (PoorWSGI reads forms by Content-Length only)",
            chunked_form,
            no_name(),
        );
    }

    /// JSON to PoorWSGI's parser, and to the route's check.
    fn poorwsgi_json(&mut self) {
        use Category::PyJson;
        let json = |this: &Self, body: &[u8]| this.post("/json", "application/json", body);
        let wanting = || poorwsgi_400("want an object with a list of finite numbers");
        let too_deep = || poorwsgi_400("maximum recursion depth exceeded while decoding");
        self.add(
            "py-json-invalid",
            PyJson,
            "single-quoted JSON",
            json(self, b"{'a': 1}"),
            poorwsgi_400("Expecting property name enclosed in double quotes"),
        );
        self.add(
            "py-json-truncated",
            PyJson,
            "JSON cut short",
            json(self, br#"{"a": [1, 2"#),
            poorwsgi_400("Expecting"),
        );
        self.add(
            "py-json-trailing-garbage",
            PyJson,
            "a JSON value followed by garbage",
            json(self, br#"{"a": 1} xyz"#),
            poorwsgi_400("Extra data"),
        );
        self.add(
            "py-json-empty",
            PyJson,
            "an empty application/json body",
            json(self, b""),
            wanting(),
        );
        self.add(
            "py-json-deep-open",
            PyJson,
            "60,000 `[` (Python's recursion limit: no stack overflow)",
            json(self, &vec![b'['; 60_000]),
            too_deep(),
        );
        let closed_deep = [vec![b'['; 30_000], vec![b']'; 30_000]].concat();
        self.add(
            "py-json-deep-valid",
            PyJson,
            "30,000 nested arrays, every one closed",
            json(self, &closed_deep),
            too_deep(),
        );
        self.add(
            "py-json-deep-objects",
            PyJson,
            "12,000 nested objects `{\"a\":`",
            json(self, "{\"a\":".repeat(12_000).as_bytes()),
            too_deep(),
        );
        self.add(
            "py-json-invalid-utf8",
            PyJson,
            "bytes FF FE inside a JSON string",
            json(self, b"\"\xff\xfe\""),
            poorwsgi_400("codec can't decode byte 0xff"),
        );
        self.add(
            "py-json-lone-surrogate",
            PyJson,
            "a lone UTF-16 surrogate escape `\\ud800` (Python parses it: not an object)",
            json(self, br#""\ud800""#),
            wanting(),
        );
        self.add(
            "py-json-number-out-of-range",
            PyJson,
            "the numbers 1e999999 (infinity to Python) and NaN",
            json(self, br#"{"numbers": [1e999999, NaN]}"#),
            wanting(),
        );
        let digits = [br#"{"numbers": ["#.as_slice(), &vec![b'9'; 5000], b"]}"].concat();
        self.add(
            "py-json-integer-5000-digits",
            PyJson,
            "an integer of 5000 digits (over Python's 4300)",
            json(self, &digits),
            poorwsgi_400("Exceeds the limit (4300 digits)"),
        );
        let big = [br#"{"numbers": [1"#.as_slice(), &vec![b'0'; 400], b"]}"].concat();
        self.add(
            "py-json-integer-401-digits",
            PyJson,
            "an integer of 401 digits (too large for a float: summed exactly)",
            json(self, &big),
            answer(200, &[&format!("\"total\": 1{}", "0".repeat(400))]),
        );
        self.add(
            "py-json-not-numbers",
            PyJson,
            "a list of booleans where numbers belong",
            json(self, br#"{"numbers": [true, false]}"#),
            wanting(),
        );
        self.add(
            "py-json-unknown-charset",
            PyJson,
            "application/json; charset=nope",
            self.post(
                "/json",
                "application/json; charset=nope",
                br#"{"numbers": [1]}"#,
            ),
            poorwsgi_400("unknown encoding: nope"),
        );
        self.add(
            "py-json-wrong-charset",
            PyJson,
            "UTF-8 JSON announced as charset=utf-16",
            self.post(
                "/json",
                "application/json; charset=utf-16",
                br#"{"numbers": [1]}"#,
            ),
            poorwsgi_400("Expecting value"),
        );
        self.add(
            "py-json-wrong-type",
            PyJson,
            "JSON sent as text/plain (not parsed)",
            self.post("/json", "text/plain", br#"{"numbers": [1]}"#),
            wanting(),
        );
        let over = [b"\"".as_slice(), &vec![b'j'; LIMIT_REQUEST_BODY], b"\""].concat();
        self.add(
            "py-json-over-limit",
            PyJson,
            "a JSON string over LimitRequestBody",
            json(self, &over),
            Expect::Reject,
        );
    }

    /// Cookies PoorWSGI parses for every request, and odd `Content-Type`
    /// parameters.
    fn poorwsgi_headers(&mut self) {
        use Category::PyHeaders;
        let get_with = |this: &Self, header: &[u8]| this.request("GET", "/h", &[header], b"");
        let described = |needle: &str| answer(200, &["\"script_name\":\"/pdmn\"", needle]);
        self.add(
            "py-cookie-odd-characters",
            PyHeaders,
            "a cookie of quotes, separators and bytes >= 0x80",
            get_with(self, b"Cookie: session=\"a b\\,c\xff\xfe\"; x=\xc3\x28=="),
            described("\"cookie\":\"session="),
        );
        let many = (0..60)
            .map(|i| format!("c{i}=\"{}\"", "v".repeat(100)))
            .collect::<Vec<_>>()
            .join("; ");
        self.add(
            "py-cookie-many",
            PyHeaders,
            "60 cookies of 100 bytes in one header",
            get_with(self, format!("Cookie: {many}").as_bytes()),
            described("c59="),
        );
        self.add(
            "py-cookie-unbalanced-quote",
            PyHeaders,
            "a cookie value with an unbalanced quote",
            get_with(self, b"Cookie: a=\"open; b=2"),
            described("\"cookie\":\"a="),
        );
        self.add(
            "py-cookie-control-byte",
            PyHeaders,
            "a control byte (0x01) in a cookie",
            get_with(self, b"Cookie: a=\x01"),
            Expect::Reject,
        );
        self.add(
            "py-content-type-unclosed-quote",
            PyHeaders,
            "a multipart boundary with an unclosed quote (taken as `\"XX`, never found)",
            self.post(
                "/form",
                "multipart/form-data; boundary=\"XX",
                &closed(&[field("name", b"1")]),
            ),
            poorwsgi_400("the form has no field name"),
        );
        self.add(
            "py-content-type-two-boundaries",
            PyHeaders,
            "two boundary parameters (the last one counts)",
            self.post(
                "/form",
                "multipart/form-data; boundary=YY; boundary=XX",
                &closed(&[field("name", b"1")]),
            ),
            answer(200, &["\"name\": \"1\""]),
        );
        self.add(
            "py-form-unknown-charset",
            PyHeaders,
            "an urlencoded form with charset=nope (the parser decodes UTF-8)",
            self.post(
                "/form",
                "application/x-www-form-urlencoded; charset=nope",
                b"name=1",
            ),
            answer(200, &["\"name\": \"1\""]),
        );
        let params = (0..200)
            .map(|i| format!("p{i}=v"))
            .collect::<Vec<_>>()
            .join("; ");
        self.add(
            "py-content-type-many-params",
            PyHeaders,
            "a Content-Type of 200 parameters",
            self.post(
                "/form",
                &format!("application/x-www-form-urlencoded; {params}"),
                b"name=1",
            ),
            answer(200, &["\"name\": \"1\""]),
        );
    }
}

/// Every case: the protocol-level ones against the echo app in both modes
/// and against the PoorWSGI app, the app-level ones against
/// `examples/simple` in both modes, the Python ones against the PoorWSGI
/// app.
pub fn all_cases(host: &str) -> Vec<Case> {
    let mut all = Vec::new();
    for prefix in [EMBEDDED, DAEMON, PY_DAEMON] {
        all.extend(cases(prefix, host));
    }
    for prefix in [SIMPLE_EMBEDDED, SIMPLE_DAEMON] {
        all.extend(app_cases(prefix, host));
    }
    all.extend(python_cases(PY_DAEMON, host));
    all
}

trait ReplaceBytes {
    fn replacen_bytes(self, from: &[u8], to: &[u8]) -> Vec<u8>;
}

impl ReplaceBytes for Vec<u8> {
    /// Replaces the first `from` with `to`.
    fn replacen_bytes(self, from: &[u8], to: &[u8]) -> Vec<u8> {
        match self.windows(from.len()).position(|w| w == from) {
            None => self,
            Some(i) => [&self[..i], to, &self[i + from.len()..]].concat(),
        }
    }
}

/// Counts the bytes read from the socket, to tell a reset between responses
/// from one in the middle of a response.
struct Counting {
    inner: TcpStream,
    total: Arc<AtomicU64>,
}

impl Read for Counting {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.total.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

fn error(took: Duration, what: String) -> Observation {
    Observation {
        responses: Vec::new(),
        raw: Vec::new(),
        ending: Ending::Error(what),
        took,
    }
}

/// Sends a case to `addr` and reads what comes back.
pub fn run(addr: SocketAddr, case: &Case) -> Observation {
    let start = Instant::now();
    let mut stream = match wire::connect(addr, IO_TIMEOUT) {
        Ok(s) => s,
        Err(e) => return error(start.elapsed(), format!("connect: {e}")),
    };
    let mut read_timeout = IO_TIMEOUT;
    let method = match &case.sending {
        Sending::Whole(b) | Sending::HalfClose(b) | Sending::Abandon(b) => wire::method_of(b),
        Sending::Drip { head, drip, .. } => {
            wire::method_of(if head.contains(&b' ') { head } else { drip })
        }
    }
    .to_owned();
    let stop = Arc::new(AtomicBool::new(false));
    let mut dripper = None;
    // A write may fail once the server gave up (it answered 413 and closed,
    // say): what it answered is read all the same.
    match &case.sending {
        Sending::Whole(bytes) | Sending::HalfClose(bytes) | Sending::Abandon(bytes) => {
            let _ = stream.write_all(bytes);
            match &case.sending {
                Sending::HalfClose(_) => {
                    let _ = wire::half_close(&stream);
                }
                Sending::Abandon(_) => {
                    drop(stream);
                    return Observation {
                        responses: Vec::new(),
                        raw: Vec::new(),
                        ending: Ending::Abandoned,
                        took: start.elapsed(),
                    };
                }
                _ => {}
            }
        }
        Sending::Drip { head, drip, every } => {
            read_timeout = SLOW_LIMIT;
            let _ = stream.write_all(head);
            let mut writer = match stream.try_clone() {
                Ok(w) => w,
                Err(e) => return error(start.elapsed(), format!("clone: {e}")),
            };
            let (drip, every, stop) = (drip.clone(), *every, stop.clone());
            dripper = Some(thread::spawn(move || {
                for b in drip {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    thread::sleep(every);
                    if writer.write_all(&[b]).is_err() {
                        return;
                    }
                }
            }));
        }
    }
    let _ = stream.set_read_timeout(Some(read_timeout));
    if matches!(case.expect, Expect::Http09(_)) {
        let mut raw = Vec::new();
        let ending = match stream.read_to_end(&mut raw) {
            Ok(_) => Ending::Closed,
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => Ending::Reset,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Ending::LeftOpen
            }
            Err(e) => Ending::Error(e.to_string()),
        };
        return Observation {
            responses: Vec::new(),
            raw,
            ending,
            took: start.elapsed(),
        };
    }
    let total = Arc::new(AtomicU64::new(0));
    let mut reader = BufReader::new(Counting {
        inner: stream,
        total: total.clone(),
    });
    let mut responses = Vec::new();
    let ending = loop {
        let (before, buffered) = (total.load(Ordering::Relaxed), reader.buffer().len());
        match wire::read_response(&mut reader, &method) {
            Ok(Some(r)) => {
                responses.push(r);
                let _ = reader
                    .get_ref()
                    .inner
                    .set_read_timeout(Some(SECOND_RESPONSE_WAIT));
            }
            Ok(None) => break Ending::Closed,
            Err(e) => {
                let untouched = total.load(Ordering::Relaxed) == before && buffered == 0;
                break match e.kind() {
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut if untouched => {
                        Ending::LeftOpen
                    }
                    io::ErrorKind::ConnectionReset if untouched => Ending::Reset,
                    _ => Ending::Error(e.to_string()),
                };
            }
        }
    };
    stop.store(true, Ordering::SeqCst);
    if let Some(d) = dripper {
        let _ = d.join();
    }
    Observation {
        responses,
        raw: Vec::new(),
        ending,
        took: start.elapsed(),
    }
}

fn snippet(r: &Response) -> String {
    let text: String = visible_text(&r.text()).chars().take(160).collect();
    format!(
        "{} {}",
        r.status,
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    )
}

/// The text of an HTML page's body without its tags (error pages put
/// their message after a long head); any other text as it is.
fn visible_text(text: &str) -> String {
    let Some((_, body)) = text.split_once("<body>") else {
        return text.to_owned();
    };
    let mut out = String::with_capacity(body.len());
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// Whether `obs` is what `case` must get.
pub fn judge(case: &Case, obs: &Observation) -> Verdict {
    if let Some(r) = obs.responses.iter().find(|r| r.status >= 500) {
        return Verdict::Fail(format!("a 5xx: {}", snippet(r)));
    }
    if let Ending::Error(e) = &obs.ending {
        return Verdict::Fail(format!(
            "a response cut short or malformed, or an I/O error: {e} (after {} responses)",
            obs.responses.len()
        ));
    }
    let needles = match &case.expect {
        Expect::Http09(needles) => return judge_http09(needles, obs),
        Expect::Answer { status, holding } => return judge_answer(*status, holding, obs),
        Expect::RedirectTo(path) => return judge_redirect(path, obs),
        Expect::Reject => None,
        Expect::RejectOrServe(n) => Some(n),
        Expect::OneResponse(n) => {
            if obs.responses.len() > 1 {
                return Verdict::Fail(format!(
                    "{} responses: the bytes after the body were answered as a request ({})",
                    obs.responses.len(),
                    obs.responses
                        .iter()
                        .map(snippet)
                        .collect::<Vec<_>>()
                        .join(" | ")
                ));
            }
            n.as_ref()
        }
    };
    match obs.responses.first() {
        Some(r) if (400..500).contains(&r.status) => Verdict::Pass(r.status.to_string()),
        Some(r) if (200..300).contains(&r.status) => match needles {
            Some(n) => {
                let body = r.text();
                match n.iter().find(|x| !body.contains(x.as_str())) {
                    None => Verdict::Pass(format!("{} served", r.status)),
                    Some(missing) => Verdict::Fail(format!(
                        "served, but the answer lacks {missing:?}: {}",
                        snippet(r)
                    )),
                }
            }
            None => Verdict::Fail(format!("served, not rejected: {}", snippet(r))),
        },
        Some(r) => Verdict::Fail(format!("unexpected status: {}", snippet(r))),
        None => match obs.ending {
            Ending::Closed | Ending::Reset => Verdict::Pass("close".to_owned()),
            Ending::Abandoned => Verdict::Pass("abandoned (see the logs)".to_owned()),
            _ => Verdict::Fail(format!(
                "no answer: the connection was left open for {:.1} s",
                obs.took.as_secs_f64()
            )),
        },
    }
}

/// How a pass is reported: `413` for a 4xx, `200 served` for an answer
/// the app served (which [`counts`] tells apart).
fn passed_with(status: u16) -> Verdict {
    if (400..500).contains(&status) {
        Verdict::Pass(status.to_string())
    } else {
        Verdict::Pass(format!("{status} served"))
    }
}

/// The one response, or why there is none.
fn only_response(obs: &Observation) -> Result<&Response, Verdict> {
    match obs.responses.as_slice() {
        [r] => Ok(r),
        [] => Err(Verdict::Fail(format!(
            "no answer (the connection ended: {:?})",
            obs.ending
        ))),
        more => Err(Verdict::Fail(format!(
            "{} responses: {}",
            more.len(),
            more.iter().map(snippet).collect::<Vec<_>>().join(" | ")
        ))),
    }
}

fn judge_answer(status: u16, holding: &[String], obs: &Observation) -> Verdict {
    let r = match only_response(obs) {
        Ok(r) => r,
        Err(failed) => return failed,
    };
    if r.status != status {
        return Verdict::Fail(format!("want {status}, got {}", snippet(r)));
    }
    let body = r.text();
    match holding.iter().find(|x| !body.contains(x.as_str())) {
        None => passed_with(status),
        Some(missing) => Verdict::Fail(format!("the answer lacks {missing:?}: {}", snippet(r))),
    }
}

fn judge_redirect(path: &str, obs: &Observation) -> Verdict {
    let r = match only_response(obs) {
        Ok(r) => r,
        Err(failed) => return failed,
    };
    let location = r.header("Location").unwrap_or("");
    if (300..400).contains(&r.status) && location.ends_with(path) {
        passed_with(r.status)
    } else {
        Verdict::Fail(format!(
            "want a redirect to {path}, got {} (Location {location:?})",
            snippet(r)
        ))
    }
}

fn judge_http09(needles: &[String], obs: &Observation) -> Verdict {
    let text = String::from_utf8_lossy(&obs.raw);
    if let Some(rest) = text.strip_prefix("HTTP/") {
        let status = rest.split(' ').nth(1).unwrap_or("");
        return if status.starts_with('4') {
            Verdict::Pass(status.to_owned())
        } else {
            Verdict::Fail(format!("answered {}", text.lines().next().unwrap_or("")))
        };
    }
    if obs.raw.is_empty() {
        return match obs.ending {
            Ending::Closed | Ending::Reset => Verdict::Pass("close".to_owned()),
            _ => Verdict::Fail(format!("no answer: {:?}", obs.ending)),
        };
    }
    match needles.iter().find(|n| !text.contains(n.as_str())) {
        None => Verdict::Pass("0.9 served".to_owned()),
        Some(missing) => Verdict::Fail(format!(
            "an HTTP/0.9 answer without {missing:?}: {}",
            text.chars().take(160).collect::<String>()
        )),
    }
}

/// Runs `cases` against `addr`, `parallel` at a time; the outcomes in the
/// order of `cases`.
pub fn run_all(addr: SocketAddr, cases: Vec<Case>, parallel: usize) -> Vec<Outcome> {
    let cases = Arc::new(cases);
    let next = Arc::new(AtomicUsize::new(0));
    let results: Arc<Mutex<BTreeMap<usize, Outcome>>> = Arc::default();
    let workers: Vec<_> = (0..parallel.max(1))
        .map(|_| {
            let (cases, next, results) = (cases.clone(), next.clone(), results.clone());
            thread::spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(case) = cases.get(i) else { return };
                    let observation = run(addr, case);
                    let verdict = judge(case, &observation);
                    results.lock().unwrap_or_else(|e| e.into_inner()).insert(
                        i,
                        Outcome {
                            case: case.clone(),
                            observation,
                            verdict,
                        },
                    );
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
    let mut results = results.lock().unwrap_or_else(|e| e.into_inner());
    std::mem::take(&mut *results).into_values().collect()
}

/// Counts per category.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub tried: usize,
    /// Rejected with a 4xx.
    pub client_errors: usize,
    /// Closed (or reset, or abandoned) without a response.
    pub closed: usize,
    /// Served by the app (odd but valid input).
    pub served: usize,
    /// 5xx answers (must be 0).
    pub server_errors: usize,
    /// Other failures (must be 0).
    pub failed: usize,
}

/// The counts per category, and in all.
pub fn counts(outcomes: &[Outcome]) -> (BTreeMap<Category, Counts>, Counts) {
    let mut per: BTreeMap<Category, Counts> = BTreeMap::new();
    let mut all = Counts::default();
    for o in outcomes {
        for c in [per.entry(o.case.category).or_default(), &mut all] {
            c.tried += 1;
            let five = o.observation.responses.iter().any(|r| r.status >= 500);
            match &o.verdict {
                _ if five => c.server_errors += 1,
                Verdict::Fail(_) => c.failed += 1,
                Verdict::Pass(p) if p.ends_with("served") => c.served += 1,
                Verdict::Pass(p) if p.starts_with('4') => c.client_errors += 1,
                Verdict::Pass(_) => c.closed += 1,
            }
        }
    }
    (per, all)
}

/// The failures, one a line.
pub fn describe_failures(outcomes: &[Outcome]) -> String {
    outcomes
        .iter()
        .filter_map(|o| match &o.verdict {
            Verdict::Fail(why) => Some(format!("{} ({}): {why}", o.case.id, o.case.what)),
            Verdict::Pass(_) => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every outcome, one a line: `id: verdict (took)`.
pub fn describe_all(outcomes: &[Outcome]) -> String {
    outcomes
        .iter()
        .map(|o| {
            format!(
                "{:<40} {:<5} {:?} ({:.2} s) {}",
                o.case.id,
                if o.verdict.passed() { "ok" } else { "FAIL" },
                o.verdict,
                o.observation.took.as_secs_f64(),
                o.case.what
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response {
            status,
            headers: headers.iter().map(|(n, v)| (s(n), s(v))).collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    fn observed(responses: Vec<Response>) -> Observation {
        Observation {
            responses,
            raw: Vec::new(),
            ending: Ending::Closed,
            took: Duration::ZERO,
        }
    }

    fn case(expect: Expect) -> Case {
        Case {
            id: s("semb/test"),
            category: Category::Forms,
            what: "a test",
            sending: Sending::Whole(Vec::new()),
            expect,
        }
    }

    #[test]
    fn base64url_as_rfc_4648_without_padding() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64url(plain.as_bytes()), encoded, "{plain:?}");
        }
        // The URL-safe alphabet: 62 and 63 are `-` and `_`.
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn forged_sessions_have_app_sdks_format() {
        let cookie = forged_signed_session(32);
        let parts: Vec<&str> = cookie.split('.').collect();
        assert_eq!(parts.len(), 3, "{cookie}");
        assert_eq!(parts[0], "s1");
        // 2100-01-01 (4102444800) as 8 bytes big-endian, then
        // `{"login":true}`.
        assert_eq!(parts[1], "AAAAAPSGVwB7ImxvZ2luIjp0cnVlfQ");
        assert_eq!(parts[2].len(), 43);
        assert_eq!(
            forged_signed_session(31).split('.').nth(2).unwrap().len(),
            42
        );
    }

    #[test]
    fn chunked_frames_every_byte_and_ends_with_the_last_chunk() {
        assert_eq!(
            chunked(b"abcde", 2),
            b"2\r\nab\r\n2\r\ncd\r\n1\r\ne\r\n0\r\n\r\n"
        );
        assert_eq!(chunked(b"", 2), b"0\r\n\r\n");
    }

    #[test]
    fn an_answer_needs_its_status_and_its_message() {
        let want = case(answer(413, &["larger than 1048576 bytes"]));
        let page = "<html><head><title>413</title></head><body><h1>413</h1>\
                    <p>the body is larger than 1048576 bytes</p></body></html>";
        let judge_one = |r: Response| judge(&want, &observed(vec![r]));
        assert_eq!(judge_one(response(413, &[], page)), Verdict::Pass(s("413")));
        let other = judge_one(response(400, &[], page));
        assert!(
            matches!(&other, Verdict::Fail(why) if why.contains("want 413, got 400 413 the body")),
            "{other:?}"
        );
        let apache_page = judge_one(response(413, &[], "<body>Request Entity Too Large</body>"));
        assert!(!apache_page.passed(), "{apache_page:?}");
        assert!(!judge(&want, &observed(Vec::new())).passed());
        let served = case(answer(200, &["f: passwd"]));
        assert_eq!(
            judge(
                &served,
                &observed(vec![response(200, &[], "f: passwd (text/plain)")])
            ),
            Verdict::Pass(s("200 served"))
        );
    }

    #[test]
    fn a_redirect_must_go_to_the_path() {
        let want = case(Expect::RedirectTo(s("/semb/login")));
        let judge_one = |r: Response| judge(&want, &observed(vec![r]));
        assert_eq!(
            judge_one(response(302, &[("location", "/semb/login")], "")),
            Verdict::Pass(s("302 served"))
        );
        assert!(!judge_one(response(302, &[("Location", "/semb/private")], "")).passed());
        assert!(!judge_one(response(200, &[("Location", "/semb/login")], "private")).passed());
        assert!(!judge_one(response(500, &[], "")).passed());
        assert!(!judge(&want, &observed(Vec::new())).passed());
    }

    #[test]
    fn counts_tell_app_answers_apart() {
        let outcome = |expect: Expect, r: Response| {
            let case = case(expect);
            let observation = observed(vec![r]);
            let verdict = judge(&case, &observation);
            Outcome {
                case,
                observation,
                verdict,
            }
        };
        let outcomes = [
            outcome(answer(400, &["malformed"]), response(400, &[], "malformed")),
            outcome(
                Expect::RedirectTo(s("/login")),
                response(303, &[("Location", "/x/login")], ""),
            ),
            outcome(Expect::RedirectTo(s("/login")), response(503, &[], "")),
        ];
        let (_, all) = counts(&outcomes);
        assert_eq!(
            all,
            Counts {
                tried: 3,
                client_errors: 1,
                closed: 0,
                served: 1,
                server_errors: 1,
                failed: 0,
            }
        );
    }

    #[test]
    fn every_app_case_names_its_mode_and_its_app() {
        let cases = app_cases(SIMPLE_DAEMON, "h");
        assert!(cases.len() > 40);
        for c in &cases {
            assert!(c.id.starts_with("sdmn/"), "{}", c.id);
            let Sending::Whole(raw) = &c.sending else {
                panic!("{}: not sent whole", c.id)
            };
            let line = raw.split(|&b| b == b'\n').next().unwrap();
            assert!(line.windows(6).any(|w| w == b" /sdmn"), "{}", c.id);
        }
        let mut ids: Vec<&str> = cases.iter().map(|c| c.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), cases.len(), "duplicate ids");
    }

    #[test]
    fn the_python_cases_go_to_the_poorwsgi_app_under_its_limit() {
        let all = all_cases("h");
        let python: Vec<&Case> = all.iter().filter(|c| c.id.starts_with("pdmn/")).collect();
        assert_eq!(
            python.len(),
            cases(PY_DAEMON, "h").len() + python_cases(PY_DAEMON, "h").len()
        );
        for c in python_cases(PY_DAEMON, "h") {
            assert!(c.id.starts_with("pdmn/py-"), "{}", c.id);
            let Sending::Whole(raw) = &c.sending else {
                panic!("{}: not sent whole", c.id)
            };
            // Only the cases meant for Apache's limit go over it, with
            // their body or their Content-Length: the others reach PoorWSGI.
            let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
            let head = String::from_utf8_lossy(&raw[..end]);
            let announced = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .map_or(0, |n| n.parse::<u64>().unwrap());
            let body = raw.len() - end - 4;
            assert_eq!(
                body > LIMIT_REQUEST_BODY || announced > LIMIT_REQUEST_BODY as u64,
                c.id.ends_with("-over-limit"),
                "{}: a body of {body} bytes, Content-Length {announced}",
                c.id
            );
        }
        let config = server_config("/venv");
        assert!(config.contains("python-home=/venv"), "{config}");
        assert!(config.contains(&format!("{PY_DAEMON} @APPS@/{POORWSGI_APP_NAME}")));
        assert!(POORWSGI_APP.contains("def describe("));
    }
}
