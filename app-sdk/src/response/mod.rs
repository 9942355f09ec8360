//! Responses: [`Response`] and its [`ResponseBody`] (bytes, or a stream
//! written through a [`BodyWriter`]), [`IntoResponse`] for what a handler
//! returns, and the responses an app commonly sends: [`Html`], [`Bytes`],
//! [`Json`], [`Redirect`], [`NoContent`], [`NotModified`], files
//! ([`FileResponse`], with ranges and conditional GET) and conditional GET
//! for any response ([`conditional`], [`ETag`]).
//!
//! ```
//! use app_sdk::response::{Html, Redirect};
//! use app_sdk::{IntoResponse, Request, Response, Router};
//!
//! fn home(req: Request) -> Response {
//!     if req.query_string().is_empty() {
//!         Html("<h1>Home</h1>").into_response()
//!     } else {
//!         Redirect::to("/").into_response()
//!     }
//! }
//!
//! let router = Router::new().get("/", home);
//! # let _ = router;
//! ```

mod conditional;
mod file;
mod helpers;

use std::borrow::Cow;
use std::fmt;
use std::io::{self, Write};

use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, StatusCode};

use crate::__glue::HostSink;
pub use crate::extract::Json;
pub use conditional::{ETag, conditional};
pub use file::{FileError, FileResponse};
pub use helpers::{Bytes, Html, NoContent, NotModified, Redirect};

/// An HTTP response: status, headers and a [`ResponseBody`].
///
/// Return anything that implements [`IntoResponse`], or build one with
/// [`http::Response::builder`] (the alias has no `builder` of its own):
///
/// ```
/// use app_sdk::Response;
/// use app_sdk::http::{self, StatusCode, header};
/// use app_sdk::response::ResponseBody;
///
/// let res: Response = http::Response::builder()
///     .status(StatusCode::METHOD_NOT_ALLOWED)
///     .header(header::ALLOW, "GET, HEAD")
///     .body(ResponseBody::from("Method Not Allowed\n"))
///     .unwrap();
/// assert_eq!(res.headers()["allow"], "GET, HEAD");
/// ```
pub type Response = http::Response<ResponseBody>;

const TEXT_PLAIN_UTF_8: &str = "text/plain; charset=utf-8";
const OCTET_STREAM: &str = "application/octet-stream";

/// The body of a [`Response`]: empty, bytes in memory, or a stream written by
/// a closure.
///
/// Bytes are handed to the host in one write. A stream is written while the
/// response is being sent, through a [`BodyWriter`]; its
/// [`flush`](std::io::Write::flush) makes the host send what was written so
/// far to the client right away.
///
/// ```
/// use std::io::Write;
/// use app_sdk::response::ResponseBody;
///
/// let body = ResponseBody::stream(|w| {
///     for i in 0..3 {
///         writeln!(w, "line {i}")?;
///         w.flush()?;
///     }
///     Ok(())
/// });
/// assert!(body.as_bytes().is_none());
/// assert_eq!(body.into_vec().unwrap(), b"line 0\nline 1\nline 2\n");
///
/// let body = ResponseBody::from("hello");
/// assert_eq!(body.as_bytes(), Some(&b"hello"[..]));
/// ```
pub struct ResponseBody {
    kind: BodyKind,
}

/// What a [`ResponseBody`] holds; the glue sends each kind its own way.
pub(crate) enum BodyKind {
    Empty,
    Bytes(Cow<'static, [u8]>),
    Stream(Box<StreamFn>),
    File(FileRange),
}

/// The closure of a streaming body.
pub(crate) type StreamFn = dyn FnOnce(&mut BodyWriter) -> io::Result<()>;

/// A range of an open file as a body: the host sends it itself when it can
/// (a file bucket in Apache; in daemon mode the descriptor goes to the
/// Apache child, so the app's process never reads the file), else it is
/// read and written like a stream.
pub(crate) struct FileRange {
    pub(crate) file: std::fs::File,
    pub(crate) offset: u64,
    pub(crate) len: u64,
}

impl FileRange {
    /// The same bytes as a stream: read from the file as they are written.
    pub(crate) fn into_stream(self) -> Box<StreamFn> {
        let FileRange {
            mut file,
            offset,
            len,
        } = self;
        Box::new(move |w: &mut BodyWriter| {
            use std::io::{Read, Seek, SeekFrom};
            file.seek(SeekFrom::Start(offset))?;
            let sent = io::copy(&mut (&mut file).take(len), w)?;
            if sent < len {
                // The file shrank: cut the response short rather than
                // send fewer bytes than announced.
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the file shrank while it was sent",
                ));
            }
            Ok(())
        })
    }
}

impl ResponseBody {
    /// A body with no bytes.
    pub fn empty() -> ResponseBody {
        ResponseBody {
            kind: BodyKind::Empty,
        }
    }

    /// A body written by `f` while the response is sent.
    ///
    /// The status and headers are sent before `f` runs. An error returned by
    /// `f`, or a panic in it, fails the response: if `f` had written or
    /// flushed nothing yet, the client gets a 500 instead; otherwise the host
    /// cuts the response short so the client cannot take it as complete. The
    /// closure does not need to be `Send`: it runs on the thread that handles
    /// the request, and may read the request body (see
    /// [`Request::into_body`](crate::Request::into_body)).
    pub fn stream<F>(f: F) -> ResponseBody
    where
        F: FnOnce(&mut BodyWriter) -> io::Result<()> + 'static,
    {
        ResponseBody {
            kind: BodyKind::Stream(Box::new(f)),
        }
    }

    /// `len` bytes of `file` from `offset`, sent by the host where it can
    /// without the app reading them ([`FileResponse`](crate::response::FileResponse)
    /// makes these).
    pub(crate) fn file_range(file: std::fs::File, offset: u64, len: u64) -> ResponseBody {
        ResponseBody {
            kind: BodyKind::File(FileRange { file, offset, len }),
        }
    }

    /// The bytes of the body, or `None` for a stream or a file.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match &self.kind {
            BodyKind::Empty => Some(&[]),
            BodyKind::Bytes(b) => Some(b),
            BodyKind::Stream(_) | BodyKind::File(_) => None,
        }
    }

    /// Whether the body is produced while it is sent (a stream, or a file
    /// read from disk), rather than held in memory.
    pub fn is_stream(&self) -> bool {
        matches!(self.kind, BodyKind::Stream(_) | BodyKind::File(_))
    }

    /// The bytes of the body, running a stream into memory; meant for tests.
    pub fn into_vec(self) -> io::Result<Vec<u8>> {
        match self.kind {
            BodyKind::Empty => Ok(Vec::new()),
            BodyKind::Bytes(b) => Ok(b.into_owned()),
            BodyKind::File(range) => ResponseBody {
                kind: BodyKind::Stream(range.into_stream()),
            }
            .into_vec(),
            BodyKind::Stream(f) => {
                let mut writer = BodyWriter {
                    sink: Sink::Memory(Vec::new()),
                };
                f(&mut writer)?;
                match writer.sink {
                    Sink::Memory(bytes) => Ok(bytes),
                    // A closure may swap its writer with the one of another
                    // stream it runs; give up rather than mix them up.
                    Sink::Host(_) => Err(io::Error::other("the stream swapped its BodyWriter")),
                }
            }
        }
    }

    pub(crate) fn into_kind(self) -> BodyKind {
        self.kind
    }
}

impl Default for ResponseBody {
    fn default() -> ResponseBody {
        ResponseBody::empty()
    }
}

impl fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            BodyKind::Empty => f.write_str("ResponseBody::Empty"),
            BodyKind::Bytes(b) => write!(f, "ResponseBody::Bytes({} bytes)", b.len()),
            BodyKind::Stream(_) => f.write_str("ResponseBody::Stream"),
            BodyKind::File(range) => write!(f, "ResponseBody::File({} bytes)", range.len),
        }
    }
}

impl From<()> for ResponseBody {
    fn from((): ()) -> ResponseBody {
        ResponseBody::empty()
    }
}

impl From<&'static str> for ResponseBody {
    fn from(s: &'static str) -> ResponseBody {
        ResponseBody::from(s.as_bytes())
    }
}

impl From<String> for ResponseBody {
    fn from(s: String) -> ResponseBody {
        ResponseBody::from(s.into_bytes())
    }
}

impl From<&'static [u8]> for ResponseBody {
    fn from(b: &'static [u8]) -> ResponseBody {
        ResponseBody {
            kind: BodyKind::Bytes(Cow::Borrowed(b)),
        }
    }
}

impl From<Vec<u8>> for ResponseBody {
    fn from(b: Vec<u8>) -> ResponseBody {
        ResponseBody {
            kind: BodyKind::Bytes(Cow::Owned(b)),
        }
    }
}

/// Where a streaming body goes: [`std::io::Write`] for body bytes, with a
/// [`flush`](std::io::Write::flush) that sends them to the client now.
///
/// Only the glue and [`ResponseBody::into_vec`] make one. A write fails with
/// [`io::ErrorKind::BrokenPipe`] once the client is gone; stop writing then.
pub struct BodyWriter {
    sink: Sink,
}

/// The destination of a [`BodyWriter`].
pub(crate) enum Sink {
    Host(HostSink),
    Memory(Vec<u8>),
}

impl BodyWriter {
    pub(crate) fn host(sink: HostSink) -> BodyWriter {
        BodyWriter {
            sink: Sink::Host(sink),
        }
    }

    pub(crate) fn into_sink(self) -> Sink {
        self.sink
    }
}

impl Write for BodyWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.sink {
            Sink::Host(host) => host.write(buf),
            Sink::Memory(bytes) => bytes.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.sink {
            Sink::Host(host) => host.flush(),
            Sink::Memory(_) => Ok(()),
        }
    }
}

impl fmt::Debug for BodyWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyWriter").finish_non_exhaustive()
    }
}

/// Response headers handed to the host byte for byte, after the ones in the
/// [`HeaderMap`], without the checks of [`http::HeaderName`] and
/// [`http::HeaderValue`].
///
/// Ordinary apps never need this: the `http` types already refuse every name
/// and value the host refuses (names that are not tokens; values holding CR,
/// LF, NUL or other control characters). It exists to test hosts. Put it in
/// the response's extensions; the host still checks every header, and a
/// refused header turns the response into a 500.
///
/// ```
/// use app_sdk::Response;
/// use app_sdk::response::{RawHeaders, ResponseBody};
///
/// let mut res = Response::new(ResponseBody::empty());
/// res.extensions_mut()
///     .insert(RawHeaders(vec![(b"x-test".to_vec(), b"a\r\nb".to_vec())]));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawHeaders(pub Vec<(Vec<u8>, Vec<u8>)>);

/// Turns a handler's return value into a [`Response`].
///
/// Text (`&'static str`, `String`) gets `content-type: text/plain;
/// charset=utf-8`, bytes (`Vec<u8>`, `&'static [u8]`) get
/// `application/octet-stream`, and the status is 200 unless a
/// [`StatusCode`] says otherwise:
///
/// ```
/// use app_sdk::IntoResponse;
/// use app_sdk::http::StatusCode;
///
/// let res = "hi".into_response();
/// assert_eq!(res.status(), StatusCode::OK);
/// assert_eq!(res.headers()["content-type"], "text/plain; charset=utf-8");
///
/// let res = (StatusCode::NOT_FOUND, format!("no {}", "page")).into_response();
/// assert_eq!(res.status(), 404);
/// assert_eq!(res.body().as_bytes(), Some(&b"no page"[..]));
///
/// let res: Result<&str, StatusCode> = Err(StatusCode::FORBIDDEN);
/// assert_eq!(res.into_response().status(), 403);
/// ```
pub trait IntoResponse {
    /// Makes the response.
    fn into_response(self) -> Response;
}

fn with_content_type(body: ResponseBody, content_type: &'static str) -> Response {
    let mut res = Response::new(body);
    res.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    res
}

impl<B: Into<ResponseBody>> IntoResponse for http::Response<B> {
    fn into_response(self) -> Response {
        self.map(Into::into)
    }
}

impl IntoResponse for ResponseBody {
    fn into_response(self) -> Response {
        Response::new(self)
    }
}

impl IntoResponse for () {
    fn into_response(self) -> Response {
        Response::new(ResponseBody::empty())
    }
}

impl IntoResponse for &'static str {
    fn into_response(self) -> Response {
        with_content_type(self.into(), TEXT_PLAIN_UTF_8)
    }
}

impl IntoResponse for String {
    fn into_response(self) -> Response {
        with_content_type(self.into(), TEXT_PLAIN_UTF_8)
    }
}

impl IntoResponse for Cow<'static, str> {
    fn into_response(self) -> Response {
        match self {
            Cow::Borrowed(s) => s.into_response(),
            Cow::Owned(s) => s.into_response(),
        }
    }
}

impl IntoResponse for &'static [u8] {
    fn into_response(self) -> Response {
        with_content_type(self.into(), OCTET_STREAM)
    }
}

impl IntoResponse for Vec<u8> {
    fn into_response(self) -> Response {
        with_content_type(self.into(), OCTET_STREAM)
    }
}

impl IntoResponse for StatusCode {
    fn into_response(self) -> Response {
        let mut res = Response::new(ResponseBody::empty());
        *res.status_mut() = self;
        res
    }
}

impl<T: IntoResponse> IntoResponse for (StatusCode, T) {
    fn into_response(self) -> Response {
        let mut res = self.1.into_response();
        *res.status_mut() = self.0;
        res
    }
}

/// The headers in the map replace those of the same name that `T` set.
impl<T: IntoResponse> IntoResponse for (HeaderMap, T) {
    fn into_response(self) -> Response {
        let mut res = self.1.into_response();
        extend_replacing(res.headers_mut(), self.0);
        res
    }
}

/// The headers in the map replace those of the same name that `T` set.
impl<T: IntoResponse> IntoResponse for (StatusCode, HeaderMap, T) {
    fn into_response(self) -> Response {
        let mut res = (self.1, self.2).into_response();
        *res.status_mut() = self.0;
        res
    }
}

impl<T: IntoResponse, E: IntoResponse> IntoResponse for Result<T, E> {
    fn into_response(self) -> Response {
        match self {
            Ok(t) => t.into_response(),
            Err(e) => e.into_response(),
        }
    }
}

/// Moves every header of `from` into `to`, replacing the values `to` had for
/// the names `from` sets and keeping repeated values of `from`.
fn extend_replacing(to: &mut HeaderMap, from: HeaderMap) {
    let mut current = None;
    for (name, value) in from {
        if let Some(name) = name {
            to.insert(name.clone(), value);
            current = Some(name);
        } else if let Some(name) = &current {
            to.append(name, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::{ALLOW, SET_COOKIE};

    fn text(res: Response) -> (StatusCode, Option<String>, Vec<u8>) {
        let ct = res
            .headers()
            .get(CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned());
        (res.status(), ct, res.into_body().into_vec().unwrap())
    }

    #[test]
    fn text_and_bytes() {
        let plain = Some(TEXT_PLAIN_UTF_8.to_owned());
        let octets = Some(OCTET_STREAM.to_owned());
        assert_eq!(
            text("a".into_response()),
            (StatusCode::OK, plain.clone(), b"a".to_vec())
        );
        assert_eq!(
            text(String::from("b").into_response()),
            (StatusCode::OK, plain.clone(), b"b".to_vec())
        );
        assert_eq!(
            text(Cow::Borrowed("c").into_response()),
            (StatusCode::OK, plain.clone(), b"c".to_vec())
        );
        assert_eq!(
            text(vec![1u8, 2].into_response()),
            (StatusCode::OK, octets.clone(), vec![1, 2])
        );
        assert_eq!(
            text((&b"x"[..]).into_response()),
            (StatusCode::OK, octets, b"x".to_vec())
        );
        assert_eq!(text(().into_response()), (StatusCode::OK, None, vec![]));
        assert_eq!(
            text(ResponseBody::from("d").into_response()),
            (StatusCode::OK, None, b"d".to_vec())
        );
        assert_eq!(
            text((StatusCode::CREATED, "e").into_response()),
            (StatusCode::CREATED, plain, b"e".to_vec())
        );
        assert_eq!(
            text(StatusCode::NO_CONTENT.into_response()),
            (StatusCode::NO_CONTENT, None, vec![])
        );
    }

    #[test]
    fn results() {
        let ok: Result<&'static str, (StatusCode, String)> = Ok("fine");
        assert_eq!(ok.into_response().status(), StatusCode::OK);
        let err: Result<&'static str, (StatusCode, String)> =
            Err((StatusCode::BAD_REQUEST, "bad".into()));
        let (status, _, body) = text(err.into_response());
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body, b"bad");
    }

    #[test]
    fn http_responses_keep_their_headers() {
        let res = http::Response::builder()
            .status(StatusCode::METHOD_NOT_ALLOWED)
            .header(ALLOW, "GET, HEAD")
            .body("no")
            .unwrap()
            .into_response();
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(res.headers()[ALLOW], "GET, HEAD");
        assert!(!res.headers().contains_key(CONTENT_TYPE));
        assert_eq!(res.body().as_bytes(), Some(&b"no"[..]));
    }

    #[test]
    fn header_maps_replace_and_append() {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
        headers.append(SET_COOKIE, HeaderValue::from_static("a=1"));
        headers.append(SET_COOKIE, HeaderValue::from_static("b=2"));
        let res = (StatusCode::ACCEPTED, headers, "<p>").into_response();
        assert_eq!(res.status(), StatusCode::ACCEPTED);
        assert_eq!(res.headers().get_all(CONTENT_TYPE).iter().count(), 1);
        assert_eq!(res.headers()[CONTENT_TYPE], "text/html");
        let cookies: Vec<_> = res.headers().get_all(SET_COOKIE).iter().collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
    }

    #[test]
    fn streams_run_into_memory() {
        let body = ResponseBody::stream(|w| {
            w.write_all(b"ab")?;
            w.flush()?;
            write!(w, "{}", 1)
        });
        assert!(body.is_stream());
        assert!(format!("{body:?}").contains("Stream"));
        assert_eq!(body.into_vec().unwrap(), b"ab1");

        let failing = ResponseBody::stream(|_| Err(io::Error::other("boom")));
        assert_eq!(failing.into_vec().unwrap_err().to_string(), "boom");
    }

    #[test]
    fn body_basics() {
        assert_eq!(ResponseBody::default().as_bytes(), Some(&[][..]));
        assert_eq!(ResponseBody::from(()).as_bytes(), Some(&[][..]));
        assert_eq!(
            format!("{:?}", ResponseBody::from("abc")),
            "ResponseBody::Bytes(3 bytes)"
        );
        assert!(!ResponseBody::empty().is_stream());
    }
}
