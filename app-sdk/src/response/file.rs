//! [`FileResponse`]: a file streamed from disk, with its content type,
//! validators, conditional GET and byte ranges.

use std::fmt;
use std::fs;
use std::io;
use std::path::Path;
use std::time::SystemTime;

use http::header::{
    ACCEPT_RANGES, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG,
    IF_RANGE, LAST_MODIFIED, RANGE,
};
use http::{HeaderMap, HeaderValue, Method, StatusCode};

use super::conditional::{
    ETag, Precondition, evaluate, not_modified, precondition_failed, to_seconds,
};
use crate::response::ResponseBody;
use crate::{HttpError, IntoResponse, Request, Response};

/// The most ranges a `Range` header may list before it is ignored.
const MAX_RANGES: usize = 64;

/// A file to send, read from disk as it is sent (never whole into memory).
///
/// [`respond`](FileResponse::respond) answers a request with it, doing
/// what a static file server does:
///
/// * `Content-Type` from the file name's extension (or set with
///   [`content_type`](FileResponse::content_type)), `Content-Length`,
///   `Last-Modified`, an `ETag` from size and modification time (strong by
///   default), `Accept-Ranges: bytes`;
/// * conditional `GET`: `If-None-Match`, `If-Modified-Since` → 304,
///   `If-Match`, `If-Unmodified-Since` → 412;
/// * a single byte range (`Range: bytes=0-99`, `bytes=100-`, `bytes=-100`)
///   → 206 with `Content-Range`, honouring `If-Range`; a range past the end
///   → 416 with `Content-Range: bytes */LENGTH`; several ranges → the whole
///   file;
/// * `HEAD`: the same headers, no body.
///
/// Opening fails with a [`FileError`] that answers 404 (missing, or not a
/// regular file), 403 (permission denied) or 500.
///
/// ```
/// use app_sdk::response::{FileError, FileResponse};
/// use app_sdk::{Request, Response};
///
/// fn download(req: Request) -> Result<Response, FileError> {
///     Ok(FileResponse::open("/srv/files/report.pdf")?.respond(&req))
/// }
/// ```
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let path = dir.path().join("hello.txt");
/// # std::fs::write(&path, "Hello, world!").unwrap();
/// use app_sdk::response::FileResponse;
/// use app_sdk::{Config, Environ, Request, RequestBody};
///
/// let env = Environ::from_iter([("REQUEST_METHOD", "GET"), ("HTTP_RANGE", "bytes=7-")]);
/// let req = Request::new(env, Config::new(), RequestBody::empty());
/// let res = FileResponse::open(&path).unwrap().respond(&req);
/// assert_eq!(res.status(), 206);
/// assert_eq!(res.headers()["content-type"], "text/plain");
/// assert_eq!(res.headers()["content-range"], "bytes 7-12/13");
/// assert_eq!(res.into_body().into_vec().unwrap(), b"world!");
/// ```
pub struct FileResponse {
    file: fs::File,
    len: u64,
    modified: Option<SystemTime>,
    content_type: HeaderValue,
    etag: Option<ETag>,
    disposition: Option<HeaderValue>,
}

impl FileResponse {
    /// Opens the file at `path`, taking its content type from its extension
    /// (`application/octet-stream` when unknown).
    pub fn open(path: impl AsRef<Path>) -> Result<FileResponse, FileError> {
        let path = path.as_ref();
        let file = fs::File::open(path).map_err(FileError)?;
        FileResponse::from_file(file, path)
    }

    /// Sends an already open `file`, taking the content type from the
    /// extension of `name` (which need not exist).
    pub fn from_file(file: fs::File, name: impl AsRef<Path>) -> Result<FileResponse, FileError> {
        let meta = file.metadata().map_err(FileError)?;
        if !meta.is_file() {
            return Err(FileError(io::Error::new(
                io::ErrorKind::NotFound,
                "not a regular file",
            )));
        }
        let modified = meta.modified().ok();
        let mime = mime_guess::from_path(name.as_ref()).first_or_octet_stream();
        let content_type = HeaderValue::from_str(mime.essence_str())
            .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
        Ok(FileResponse {
            file,
            len: meta.len(),
            modified,
            content_type,
            etag: Some(ETag::from_size_and_mtime(meta.len(), modified, false)),
            disposition: None,
        })
    }

    /// Sets the `Content-Type` (an invalid value is ignored).
    #[must_use]
    pub fn content_type(mut self, content_type: &str) -> FileResponse {
        if let Ok(v) = HeaderValue::from_str(content_type) {
            self.content_type = v;
        }
        self
    }

    /// Makes the `ETag` weak (strong by default), or, with `None`, sends
    /// none.
    ///
    /// ```no_run
    /// # use app_sdk::response::FileResponse;
    /// let file = FileResponse::open("/srv/a.css")?.etag(Some(true));
    /// # Ok::<(), app_sdk::response::FileError>(())
    /// ```
    #[must_use]
    pub fn etag(mut self, weak: Option<bool>) -> FileResponse {
        self.etag = weak.map(|weak| ETag::from_size_and_mtime(self.len, self.modified, weak));
        self
    }

    /// Asks the browser to save the file as `filename` (`Content-Disposition:
    /// attachment`), giving a plain ASCII name and the full UTF-8 one.
    ///
    /// ```no_run
    /// # use app_sdk::response::FileResponse;
    /// let file = FileResponse::open("/srv/export.bin")?.attachment("résumé.pdf");
    /// // content-disposition: attachment; filename="r_sum_.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf
    /// # Ok::<(), app_sdk::response::FileError>(())
    /// ```
    #[must_use]
    pub fn attachment(mut self, filename: &str) -> FileResponse {
        self.disposition = Some(attachment_header(filename));
        self
    }

    /// The file's length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The file's modification time.
    pub fn modified(&self) -> Option<SystemTime> {
        self.modified
    }

    /// Answers `req` with the file: 200, 206, 304, 412 or 416 (see
    /// [`FileResponse`]).
    pub fn respond(self, req: &Request) -> Response {
        let method = req.method();
        let get_or_head = method == Method::GET || method == Method::HEAD;
        let mut headers = self.headers();
        if get_or_head {
            match evaluate(method, req.headers(), self.etag.as_ref(), self.modified) {
                Precondition::Proceed => {}
                Precondition::NotModified => return not_modified(&headers),
                Precondition::Failed => return precondition_failed(),
            }
        }
        let range = if get_or_head && self.if_range_holds(req.headers()) {
            req.headers()
                .get(RANGE)
                .and_then(|v| v.to_str().ok())
                .map(|v| parse_range(v, self.len))
                .unwrap_or(RangeSpec::Whole)
        } else {
            RangeSpec::Whole
        };
        let head = method == Method::HEAD;
        match range {
            RangeSpec::Whole => {
                headers.insert(CONTENT_LENGTH, HeaderValue::from(self.len));
                let len = self.len;
                self.into_response_with(StatusCode::OK, headers, 0, len, head)
            }
            RangeSpec::Single(start, end) => {
                let len = end - start + 1;
                headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
                let range = format!("bytes {start}-{end}/{}", self.len);
                headers.insert(CONTENT_RANGE, header_value(&range));
                self.into_response_with(StatusCode::PARTIAL_CONTENT, headers, start, len, head)
            }
            RangeSpec::Unsatisfiable => {
                let mut res = Response::new(ResponseBody::empty());
                *res.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
                let range = format!("bytes */{}", self.len);
                res.headers_mut()
                    .insert(CONTENT_RANGE, header_value(&range));
                res
            }
        }
    }

    /// The headers every answer with the file carries.
    fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, self.content_type.clone());
        headers.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        if let Some(modified) = self.modified {
            let date = httpdate::fmt_http_date(to_seconds(modified));
            headers.insert(LAST_MODIFIED, header_value(&date));
        }
        if let Some(etag) = &self.etag {
            headers.insert(ETAG, etag.to_header_value());
        }
        if let Some(d) = &self.disposition {
            headers.insert(CONTENT_DISPOSITION, d.clone());
        }
        headers
    }

    /// Whether `If-Range`, if any, matches the file: a strong `ETag` match,
    /// or the exact `Last-Modified` date.
    fn if_range_holds(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers.get(IF_RANGE).and_then(|v| v.to_str().ok()) else {
            return headers.get(IF_RANGE).is_none();
        };
        let value = value.trim();
        if value.starts_with('"') || value.starts_with("W/") {
            let Some(tag) = ETag::parse(value) else {
                return false;
            };
            return self.etag.as_ref().is_some_and(|e| e.strong_eq(&tag));
        }
        match (httpdate::parse_http_date(value), self.modified) {
            (Ok(date), Some(modified)) => to_seconds(modified) == date,
            _ => false,
        }
    }

    fn into_response_with(
        self,
        status: StatusCode,
        headers: HeaderMap,
        start: u64,
        len: u64,
        head: bool,
    ) -> Response {
        let body = if head || len == 0 {
            ResponseBody::empty()
        } else {
            ResponseBody::file_range(self.file, start, len)
        };
        let mut res = Response::new(body);
        *res.status_mut() = status;
        *res.headers_mut() = headers;
        res
    }
}

/// The whole file with a 200, without looking at the request (no ranges,
/// no conditional GET; see [`FileResponse::respond`]).
impl IntoResponse for FileResponse {
    fn into_response(self) -> Response {
        let mut headers = self.headers();
        headers.insert(CONTENT_LENGTH, HeaderValue::from(self.len));
        let len = self.len;
        self.into_response_with(StatusCode::OK, headers, 0, len, false)
    }
}

impl fmt::Debug for FileResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileResponse")
            .field("len", &self.len)
            .field("content_type", &self.content_type)
            .field("etag", &self.etag)
            .finish_non_exhaustive()
    }
}

fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// `attachment; filename="ascii"; filename*=UTF-8''percent-encoded`.
fn attachment_header(filename: &str) -> HeaderValue {
    let ascii: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut value = format!("attachment; filename=\"{ascii}\"");
    if !filename.is_ascii() || ascii != filename {
        value.push_str("; filename*=UTF-8''");
        for &b in filename.as_bytes() {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                value.push(char::from(b));
            } else {
                value.push_str(&format!("%{b:02X}"));
            }
        }
    }
    header_value(&value)
}

/// What a `Range` header asks of a representation of some length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RangeSpec {
    /// No usable range: send the whole representation.
    Whole,
    /// One range, inclusive.
    Single(u64, u64),
    /// No range overlaps the representation.
    Unsatisfiable,
}

/// Parses a `Range` header for a representation of `len` bytes: a header
/// that does not parse, is not in bytes, or lists several satisfiable
/// ranges (or too many) gives `Whole`.
pub(crate) fn parse_range(value: &str, len: u64) -> RangeSpec {
    let value = value.trim();
    let Some((unit, specs)) = value.split_once('=') else {
        return RangeSpec::Whole;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return RangeSpec::Whole;
    }
    let mut satisfiable = Vec::new();
    let mut any = false;
    for (i, spec) in specs.split(',').enumerate() {
        if i >= MAX_RANGES {
            return RangeSpec::Whole;
        }
        let spec = spec.trim();
        if spec.is_empty() {
            continue;
        }
        any = true;
        let Some((first, last)) = spec.split_once('-') else {
            return RangeSpec::Whole;
        };
        let number = |s: &str| -> Option<u64> {
            (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse().ok())
                .flatten()
        };
        let (first, last) = (first.trim(), last.trim());
        if first.is_empty() {
            // A suffix: the last N bytes.
            let Some(n) = number(last) else {
                return RangeSpec::Whole;
            };
            if n > 0 && len > 0 {
                satisfiable.push((len - n.min(len), len - 1));
            }
            continue;
        }
        let Some(start) = number(first) else {
            return RangeSpec::Whole;
        };
        let end = if last.is_empty() {
            u64::MAX
        } else {
            match number(last) {
                Some(end) if end >= start => end,
                _ => return RangeSpec::Whole,
            }
        };
        if start < len {
            satisfiable.push((start, end.min(len - 1)));
        }
    }
    match satisfiable.as_slice() {
        [] if !any => RangeSpec::Whole,
        [] => RangeSpec::Unsatisfiable,
        [(start, end)] => RangeSpec::Single(*start, *end),
        _ => RangeSpec::Whole,
    }
}

/// A file that could not be opened: answers 404 when it is missing or not
/// a regular file, 403 when permission is denied, 500 otherwise (and logs
/// the error).
///
/// ```
/// use app_sdk::IntoResponse;
/// use app_sdk::response::FileResponse;
///
/// let err = FileResponse::open("/nonexistent/file.txt").unwrap_err();
/// assert_eq!(err.status(), 404);
/// assert_eq!(err.into_response().status(), 404);
/// ```
#[derive(Debug)]
pub struct FileError(pub io::Error);

impl FileError {
    /// The status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self.0.kind() {
            io::ErrorKind::NotFound
            | io::ErrorKind::NotADirectory
            | io::ErrorKind::IsADirectory => StatusCode::NOT_FOUND,
            io::ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the file cannot be sent: {}", self.0)
    }
}

impl std::error::Error for FileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl From<io::Error> for FileError {
    fn from(e: io::Error) -> FileError {
        FileError(e)
    }
}

/// An [`HttpError`] with the status of [`FileError::status`] and the error
/// as its source (which only debug pages show: the message does not name
/// the file); a 500 goes to the error log.
impl From<FileError> for HttpError {
    fn from(e: FileError) -> HttpError {
        let status = e.status();
        if status.is_server_error() {
            log::error!("{e}");
        }
        HttpError::from(status).with_source(e)
    }
}

/// The page of the [`HttpError`] it converts into.
impl IntoResponse for FileError {
    fn into_response(self) -> Response {
        HttpError::from(self).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, Environ};
    use std::time::{Duration, UNIX_EPOCH};

    struct Fixture {
        _dir: tempfile::TempDir,
        path: std::path::PathBuf,
    }

    fn fixture(name: &str, content: &[u8]) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        let mtime = UNIX_EPOCH + Duration::from_secs(1_700_000_000) + Duration::from_millis(250);
        fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        Fixture { _dir: dir, path }
    }

    fn request(method: &str, vars: &[(&str, &str)]) -> Request {
        let mut env: Environ = vars.iter().copied().collect();
        env.push("REQUEST_METHOD", method);
        Request::new(env, Config::new(), crate::RequestBody::empty())
    }

    fn send(f: &Fixture, method: &str, vars: &[(&str, &str)]) -> (StatusCode, HeaderMap, Vec<u8>) {
        let res = FileResponse::open(&f.path)
            .unwrap()
            .respond(&request(method, vars));
        let (parts, body) = res.into_parts();
        (parts.status, parts.headers, body.into_vec().unwrap())
    }

    const LAST_MODIFIED_TEXT: &str = "Tue, 14 Nov 2023 22:13:20 GMT";

    #[test]
    fn full_responses() {
        let f = fixture("page.html", b"<p>0123456789</p>");
        let (status, h, body) = send(&f, "GET", &[]);
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, b"<p>0123456789</p>");
        assert_eq!(h[CONTENT_TYPE], "text/html");
        assert_eq!(h[CONTENT_LENGTH], "17");
        assert_eq!(h[ACCEPT_RANGES], "bytes");
        assert_eq!(h[LAST_MODIFIED], LAST_MODIFIED_TEXT);
        let etag = h[ETAG].to_str().unwrap().to_owned();
        assert!(
            etag.starts_with("\"11-") && !etag.starts_with("W/"),
            "{etag}"
        );

        // HEAD: the same headers, no body.
        let (status, h, body) = send(&f, "HEAD", &[]);
        assert_eq!(status, StatusCode::OK);
        assert_eq!(h[CONTENT_LENGTH], "17");
        assert!(body.is_empty());

        // Without a request.
        let res = FileResponse::open(&f.path).unwrap().into_response();
        assert_eq!(res.headers()[CONTENT_LENGTH], "17");
        assert_eq!(res.into_body().into_vec().unwrap().len(), 17);

        // Unknown extensions, explicit types, weak tags, attachments.
        let f = fixture("data.unknownext", b"x");
        let res = FileResponse::open(&f.path)
            .unwrap()
            .etag(Some(true))
            .attachment("résumé \"1\".pdf")
            .into_response();
        assert_eq!(res.headers()[CONTENT_TYPE], "application/octet-stream");
        assert!(res.headers()[ETAG].to_str().unwrap().starts_with("W/\""));
        assert_eq!(
            res.headers()[CONTENT_DISPOSITION],
            "attachment; filename=\"r_sum_ _1_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%221%22.pdf"
        );
        let res = FileResponse::open(&f.path)
            .unwrap()
            .content_type("text/csv")
            .etag(None)
            .attachment("plain.csv")
            .into_response();
        assert_eq!(res.headers()[CONTENT_TYPE], "text/csv");
        assert!(!res.headers().contains_key(ETAG));
        assert_eq!(
            res.headers()[CONTENT_DISPOSITION],
            "attachment; filename=\"plain.csv\""
        );
    }

    #[test]
    fn ranges() {
        let f = fixture("digits.txt", b"0123456789");
        let range = |r: &str| send(&f, "GET", &[("HTTP_RANGE", r)]);
        let (status, h, body) = range("bytes=2-4");
        assert_eq!(status, StatusCode::PARTIAL_CONTENT);
        assert_eq!(body, b"234");
        assert_eq!(h[CONTENT_RANGE], "bytes 2-4/10");
        assert_eq!(h[CONTENT_LENGTH], "3");
        assert_eq!(range("bytes=7-").2, b"789");
        assert_eq!(range("bytes=-3").2, b"789");
        assert_eq!(range("bytes=-30").2, b"0123456789");
        assert_eq!(range("bytes=8-100").1[CONTENT_RANGE], "bytes 8-9/10");
        // Several ranges, bad ranges, other units: the whole file.
        for whole in [
            "bytes=0-1,3-4",
            "bytes=5-2",
            "items=0-1",
            "bytes=a-b",
            "bytes",
        ] {
            let (status, _, body) = range(whole);
            assert_eq!((status, body.len()), (StatusCode::OK, 10), "{whole}");
        }
        // Unsatisfiable.
        let (status, h, body) = range("bytes=10-");
        assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);
        assert_eq!(h[CONTENT_RANGE], "bytes */10");
        assert!(body.is_empty());
        assert_eq!(range("bytes=-0").0, StatusCode::RANGE_NOT_SATISFIABLE);
        // HEAD with a range: headers only.
        let (status, h, body) = send(&f, "HEAD", &[("HTTP_RANGE", "bytes=0-0")]);
        assert_eq!(status, StatusCode::PARTIAL_CONTENT);
        assert_eq!(h[CONTENT_LENGTH], "1");
        assert!(body.is_empty());
        // Ranges only for GET and HEAD.
        assert_eq!(
            send(&f, "POST", &[("HTTP_RANGE", "bytes=0-0")]).0,
            StatusCode::OK
        );
    }

    #[test]
    fn if_range() {
        let f = fixture("digits.txt", b"0123456789");
        let etag = send(&f, "GET", &[]).1[ETAG].to_str().unwrap().to_owned();
        let with = |if_range: &str| {
            send(
                &f,
                "GET",
                &[("HTTP_RANGE", "bytes=0-0"), ("HTTP_IF_RANGE", if_range)],
            )
            .0
        };
        assert_eq!(with(&etag), StatusCode::PARTIAL_CONTENT);
        assert_eq!(with(LAST_MODIFIED_TEXT), StatusCode::PARTIAL_CONTENT);
        assert_eq!(with("\"other\""), StatusCode::OK);
        assert_eq!(with(&format!("W/{etag}")), StatusCode::OK);
        assert_eq!(with("Tue, 14 Nov 2023 22:13:21 GMT"), StatusCode::OK);
        assert_eq!(with("junk"), StatusCode::OK);
    }

    #[test]
    fn conditional_gets() {
        let f = fixture("a.css", b"body{}");
        let etag = send(&f, "GET", &[]).1[ETAG].to_str().unwrap().to_owned();
        let (status, h, body) = send(&f, "GET", &[("HTTP_IF_NONE_MATCH", &etag)]);
        assert_eq!(status, StatusCode::NOT_MODIFIED);
        assert_eq!(h[ETAG], etag.as_str());
        assert!(!h.contains_key(CONTENT_TYPE) && !h.contains_key(CONTENT_LENGTH));
        assert!(body.is_empty());
        let weak = format!("W/{etag}");
        assert_eq!(
            send(&f, "HEAD", &[("HTTP_IF_NONE_MATCH", &weak)]).0,
            StatusCode::NOT_MODIFIED
        );
        assert_eq!(
            send(&f, "GET", &[("HTTP_IF_NONE_MATCH", "*")]).0,
            StatusCode::NOT_MODIFIED
        );
        let ims = [("HTTP_IF_MODIFIED_SINCE", LAST_MODIFIED_TEXT)];
        assert_eq!(send(&f, "GET", &ims).0, StatusCode::NOT_MODIFIED);
        let older = [("HTTP_IF_MODIFIED_SINCE", "Tue, 14 Nov 2023 22:13:19 GMT")];
        assert_eq!(send(&f, "GET", &older).0, StatusCode::OK);
        let im = [("HTTP_IF_MATCH", "\"nope\"")];
        assert_eq!(send(&f, "GET", &im).0, StatusCode::PRECONDITION_FAILED);
        // A 304 wins over a range.
        let both = [
            ("HTTP_IF_NONE_MATCH", etag.as_str()),
            ("HTTP_RANGE", "bytes=0-0"),
        ];
        assert_eq!(send(&f, "GET", &both).0, StatusCode::NOT_MODIFIED);
    }

    #[test]
    fn empty_files_and_errors() {
        let f = fixture("empty.txt", b"");
        let (status, h, body) = send(&f, "GET", &[]);
        assert_eq!((status, body.len()), (StatusCode::OK, 0));
        assert_eq!(h[CONTENT_LENGTH], "0");
        assert!(FileResponse::open(&f.path).unwrap().is_empty());
        assert_eq!(
            send(&f, "GET", &[("HTTP_RANGE", "bytes=0-")]).0,
            StatusCode::RANGE_NOT_SATISFIABLE
        );
        assert_eq!(
            send(&f, "GET", &[("HTTP_RANGE", "bytes=-5")]).0,
            StatusCode::RANGE_NOT_SATISFIABLE
        );

        let dir = tempfile::tempdir().unwrap();
        let err = FileResponse::open(dir.path()).unwrap_err();
        assert_eq!(err.status(), StatusCode::NOT_FOUND);
        let err = FileError(io::Error::new(io::ErrorKind::PermissionDenied, "no"));
        assert_eq!(err.into_response().status(), StatusCode::FORBIDDEN);
        let err = FileError::from(io::Error::other("disk on fire"));
        assert!(std::error::Error::source(&err).is_some());
        assert_eq!(
            err.into_response().status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    #[test]
    fn shrinking_files_cut_the_response() {
        let f = fixture("big.bin", &[1; 1000]);
        let res = FileResponse::open(&f.path).unwrap().into_response();
        std::fs::write(&f.path, [1; 10]).unwrap();
        let err = res.into_body().into_vec().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn range_parser() {
        use RangeSpec::*;
        let cases: &[(&str, u64, RangeSpec)] = &[
            ("bytes=0-0", 1, Single(0, 0)),
            ("Bytes = 1-2 ", 5, Single(1, 2)),
            ("bytes=0-1, 5-6", 3, Single(0, 1)),
            ("bytes=5-6, 0-1", 3, Single(0, 1)),
            ("bytes=, 0-1,", 3, Single(0, 1)),
            ("bytes=3-", 3, Unsatisfiable),
            ("bytes=-1", 0, Unsatisfiable),
            ("bytes=0-18446744073709551615", 4, Single(0, 3)),
            ("bytes=0-18446744073709551616", 4, Whole),
            ("bytes=+1-2", 4, Whole),
            ("bytes=1", 4, Whole),
            ("bytes=", 4, Whole),
            ("=0-1", 4, Whole),
        ];
        for (value, len, want) in cases {
            assert_eq!(parse_range(value, *len), *want, "{value} / {len}");
        }
        let many = format!("bytes={}", vec!["0-0"; 65].join(","));
        assert_eq!(parse_range(&many, 10), Whole);
        let mut rng = crate::test_rng::Rng::new(0x5eed_0005);
        for _ in 0..100_000 {
            let raw = rng.bytes_from(b"bytes=0123456789-, ", 20);
            let len = rng.below(12) as u64;
            if let RangeSpec::Single(s, e) = parse_range(&String::from_utf8_lossy(&raw), len) {
                assert!(s <= e && e < len, "{raw:?} {len}");
            }
        }
    }
}
