//! Hostile requests over raw TCP: malformed chunked framing, truncated
//! bodies, NUL and invalid UTF-8 in the path, query and headers, oversized
//! headers, bodies over `LimitRequestBody`, slow clients and request
//! smuggling attempts. Each must get a 4xx or a clean close (or, for the
//! few that are odd but valid HTTP, be served correctly by the app), never
//! a 5xx, and must crash nothing.
//!
//! The same list serves `tests/hostile.rs` (which compiles this file with
//! `#[path]`, beside `wire.rs` and `logs.rs`) and `rustgi-chaos --hostile`,
//! which reports the counts in RELIABILITY.md. Standard library only.
//!
//! The cases run against the echo app at [`EMBEDDED`] (inside Apache's
//! children) and at [`DAEMON`] (a daemon group), with the server
//! configuration [`SERVER_CONFIG`] and `mod_reqtimeout` loaded.

use std::collections::BTreeMap;
use std::io::{self, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::wire::{self, Response};

/// `LimitRequestBody` in [`SERVER_CONFIG`].
pub const LIMIT_REQUEST_BODY: usize = 65_536;

/// Where the echo app runs embedded.
pub const EMBEDDED: &str = "/emb";
/// Where the echo app runs in the daemon group `hostile`.
pub const DAEMON: &str = "/dmn";
/// The modules the configuration needs besides the defaults.
pub const MODULES: &[&str] = &["reqtimeout"];

/// The configuration the cases expect (placeholders `@APPS@`: the directory
/// holding `libecho.so`, `@ROOT@`: the server root). The timeouts of
/// `mod_reqtimeout` are short so that the slow clients take seconds.
pub const SERVER_CONFIG: &str = "\
RequestReadTimeout header=2-4,MinRate=500 body=3,MinRate=500
LimitRequestBody 65536
RustgiDaemonProcess hostile processes=1 threads=8 home=@ROOT@
RustgiScriptAlias /emb @APPS@/libecho.so
RustgiScriptAlias /dmn @APPS@/libecho.so process-group=hostile
";

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
    /// App-level inputs (multipart, JSON, session cookies): see
    /// [`app_cases`].
    App,
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
            Category::App => "app level (multipart, JSON, sessions)",
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

/// SLOT for the app-level cases (the app-sdk engineers add them): multipart
/// without a boundary or with a broken one, truncated parts, oversized
/// fields, deeply nested and invalid JSON, garbage and tampered session
/// cookies. Return them with [`Category::App`]; their app must be mapped in
/// [`SERVER_CONFIG`] (e.g. `RustgiScriptAlias /sdk @APPS@/libsdk_app.so`,
/// and the same with `process-group=hostile`) and copied into `@APPS@` by
/// the callers (`tests/hostile.rs` and `rustgi-chaos --hostile`). Every
/// app-level case must get a 4xx, never a 5xx, exactly as the others.
pub fn app_cases(_prefix: &str, _host: &str) -> Vec<Case> {
    Vec::new()
}

/// Every case, in both modes.
pub fn all_cases(host: &str) -> Vec<Case> {
    let mut all = Vec::new();
    for prefix in [EMBEDDED, DAEMON] {
        all.extend(cases(prefix, host));
        all.extend(app_cases(prefix, host));
    }
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
    let text: String = r.text().chars().take(160).collect();
    format!(
        "{} {}",
        r.status,
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    )
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
