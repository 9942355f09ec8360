//! [`Request`] and [`RequestBody`].

use std::fmt;
use std::io::{self, Read};

use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{Extensions, HeaderMap, HeaderName, HeaderValue, Method, Uri};

use crate::{Config, Environ};

/// One HTTP request, as an app's handler gets it.
///
/// It is built from the request's [`Environ`]: the method, the URI and the
/// headers are parsed from it once, and the raw variables stay available
/// through [`environ`](Request::environ). The body is read on demand from the
/// host through [`body_mut`](Request::body_mut).
///
/// A `Request` is neither `Send` nor `Sync`: the host only accepts request
/// callbacks (reading the body, logging with the request's context) from the
/// thread that runs the handler, and only until the handler returns. Reading
/// the body after that fails with an error instead of reaching the host.
///
/// For tests, [`Request::new`] builds one from any environ and body:
///
/// ```
/// use app_sdk::{Config, Environ, Request, RequestBody};
///
/// let environ = Environ::from_iter([
///     ("REQUEST_METHOD", "POST"),
///     ("REQUEST_URI", "/app/items?page=2"),
///     ("SCRIPT_NAME", "/app"),
///     ("PATH_INFO", "/items"),
///     ("QUERY_STRING", "page=2"),
///     ("CONTENT_TYPE", "text/plain"),
///     ("HTTP_X_TRACE_ID", "abc"),
/// ]);
/// let mut req = Request::new(environ, Config::new(), RequestBody::from_bytes("hi"));
/// assert_eq!(req.method(), "POST");
/// assert_eq!(req.uri().path(), "/app/items");
/// assert_eq!(req.headers()["x-trace-id"], "abc");
/// assert_eq!(req.headers()["content-type"], "text/plain");
/// assert_eq!(req.path_info(), "/items");
/// assert_eq!(req.read_body_to_vec(1024).unwrap(), b"hi");
/// ```
pub struct Request {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    script_name: String,
    path_info: String,
    query_string: String,
    environ: Environ,
    config: Config,
    extensions: Extensions,
    body: RequestBody,
}

impl Request {
    /// Builds a request from its environ, its per-request configuration and
    /// its body.
    ///
    /// The method comes from `REQUEST_METHOD` (`GET` if it is missing or not a
    /// valid method, which a host never sends). The URI comes from
    /// `REQUEST_URI`, or, when that is missing or does not parse, from
    /// `SCRIPT_NAME` + `PATH_INFO` (percent-encoded again) + `?QUERY_STRING`,
    /// or `/` as a last resort. The headers come from the `HTTP_*` variables
    /// (`HTTP_X_FOO_BAR` becomes `x-foo-bar`) plus `CONTENT_TYPE` and
    /// `CONTENT_LENGTH`; variables that do not make a valid header are left out.
    /// The [extensions](Request::extensions) start with the request's
    /// [`RequestId`](crate::extract::RequestId).
    pub fn new(environ: Environ, config: Config, body: RequestBody) -> Request {
        let method = environ
            .get_bytes("REQUEST_METHOD")
            .and_then(|m| Method::from_bytes(m).ok())
            .unwrap_or(Method::GET);
        let uri = uri_from_environ(&environ);
        let headers = headers_from_environ(&environ);
        let mut extensions = Extensions::new();
        extensions.insert(crate::extract::RequestId::from_environ(&environ));
        let text = |name| {
            environ
                .get_bytes(name)
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default()
        };
        Request {
            method,
            uri,
            headers,
            script_name: text("SCRIPT_NAME"),
            path_info: text("PATH_INFO"),
            query_string: text("QUERY_STRING"),
            environ,
            config,
            extensions,
            body,
        }
    }

    /// The request method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The request target as the client sent it (see [`Request::new`]).
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// The request headers.
    ///
    /// The host joins repeated headers with `", "`, so each name has one
    /// value. Headers whose names hold characters other than letters, digits
    /// and hyphens never reach the app (Apache's CGI rule), and
    /// `Authorization` only does with `RustgiPassAuthorization On`.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// All CGI/WSGI variables of the request.
    pub fn environ(&self) -> &Environ {
        &self.environ
    }

    /// The `RustgiAppConfig` pairs in effect for this request's URL.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// `SCRIPT_NAME`: the URL path the app is mounted at (`""` when mounted
    /// at `/`). Bytes that are not UTF-8 are replaced with U+FFFD; the exact
    /// bytes are in [`environ`](Request::environ).
    pub fn script_name(&self) -> &str {
        &self.script_name
    }

    /// `PATH_INFO`: the percent-decoded rest of the URL path after
    /// [`script_name`](Request::script_name) (`""` when there is none).
    /// Bytes that are not UTF-8 are replaced with U+FFFD.
    pub fn path_info(&self) -> &str {
        &self.path_info
    }

    /// `QUERY_STRING`: the raw query, without the `?`, not percent-decoded
    /// (`""` when there is none). Bytes that are not UTF-8 are replaced with
    /// U+FFFD.
    pub fn query_string(&self) -> &str {
        &self.query_string
    }

    /// Extra values attached to the request (by a router or middleware).
    pub fn extensions(&self) -> &Extensions {
        &self.extensions
    }

    /// Extra values attached to the request, mutably.
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.extensions
    }

    /// The request body, to read as a stream.
    pub fn body_mut(&mut self) -> &mut RequestBody {
        &mut self.body
    }

    /// Takes the request body, for example to move it into a streaming
    /// response.
    pub fn into_body(self) -> RequestBody {
        self.body
    }

    /// Reads the whole request body into memory, refusing bodies longer than
    /// `limit` bytes.
    ///
    /// A body over the limit fails with an error of kind
    /// [`io::ErrorKind::InvalidData`]; when `CONTENT_LENGTH` already announces
    /// more than `limit`, it fails before reading anything.
    pub fn read_body_to_vec(&mut self, limit: usize) -> io::Result<Vec<u8>> {
        let announced = self
            .environ
            .get("CONTENT_LENGTH")
            .and_then(|v| v.trim().parse::<u64>().ok());
        if let Some(len) = announced {
            if len > limit as u64 {
                return Err(too_long(limit));
            }
        }
        let capacity = announced.map_or(0, |len| len as usize);
        self.body.read_to_vec_with_capacity(limit, capacity)
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("uri", &self.uri)
            .field("headers", &self.headers)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The body of a [`Request`], read as a stream with [`std::io::Read`].
///
/// In an app it reads from the host, which de-chunks the body and enforces
/// `LimitRequestBody`; a read error means the client went away or sent a
/// malformed or oversized body (the host then answers with the matching 4xx
/// status if the response has not started).
///
/// ```
/// use std::io::Read;
/// use app_sdk::RequestBody;
///
/// let mut body = RequestBody::from_bytes("hello");
/// let mut buf = [0; 3];
/// assert_eq!(body.read(&mut buf).unwrap(), 3);
/// assert_eq!(&buf, b"hel");
/// assert_eq!(body.read_to_vec(10).unwrap(), b"lo");
/// ```
pub struct RequestBody {
    inner: Box<dyn Read>,
}

impl RequestBody {
    /// A body with no bytes.
    pub fn empty() -> RequestBody {
        RequestBody::from_reader(io::empty())
    }

    /// A body holding `bytes`.
    pub fn from_bytes(bytes: impl Into<Vec<u8>>) -> RequestBody {
        RequestBody::from_reader(io::Cursor::new(bytes.into()))
    }

    /// A body read from `reader`.
    pub fn from_reader(reader: impl Read + 'static) -> RequestBody {
        RequestBody {
            inner: Box::new(reader),
        }
    }

    /// Reads the rest of the body into memory, refusing more than `limit`
    /// bytes with an error of kind [`io::ErrorKind::InvalidData`].
    pub fn read_to_vec(&mut self, limit: usize) -> io::Result<Vec<u8>> {
        self.read_to_vec_with_capacity(limit, 0)
    }

    fn read_to_vec_with_capacity(&mut self, limit: usize, capacity: usize) -> io::Result<Vec<u8>> {
        let mut buf = Vec::with_capacity(capacity.min(limit));
        let max = (limit as u64).saturating_add(1);
        self.by_ref().take(max).read_to_end(&mut buf)?;
        if buf.len() > limit {
            return Err(too_long(limit));
        }
        Ok(buf)
    }
}

impl Read for RequestBody {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl Default for RequestBody {
    fn default() -> RequestBody {
        RequestBody::empty()
    }
}

impl fmt::Debug for RequestBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestBody").finish_non_exhaustive()
    }
}

fn too_long(limit: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("the request body is longer than the limit of {limit} bytes"),
    )
}

/// Rebuilds the request headers from the `HTTP_*` variables, `CONTENT_TYPE`
/// and `CONTENT_LENGTH`, leaving out variables that are not valid headers.
pub(crate) fn headers_from_environ(environ: &Environ) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in environ.iter() {
        let Some(rest) = name.strip_prefix(b"HTTP_") else {
            continue;
        };
        let header: Vec<u8> = rest
            .iter()
            .map(|&b| if b == b'_' { b'-' } else { b })
            .collect();
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&header),
            HeaderValue::from_bytes(value),
        ) {
            headers.append(name, value);
        }
    }
    for (var, name) in [
        ("CONTENT_TYPE", CONTENT_TYPE),
        ("CONTENT_LENGTH", CONTENT_LENGTH),
    ] {
        if headers.contains_key(&name) {
            continue;
        }
        match environ.get_bytes(var).map(HeaderValue::from_bytes) {
            Some(Ok(value)) if !value.is_empty() => {
                headers.insert(name, value);
            }
            _ => {}
        }
    }
    headers
}

/// The request URI: `REQUEST_URI`, else `SCRIPT_NAME` + `PATH_INFO` +
/// `?QUERY_STRING` percent-encoded, else `/`.
pub(crate) fn uri_from_environ(environ: &Environ) -> Uri {
    if let Some(Ok(uri)) = environ.get_bytes("REQUEST_URI").map(Uri::try_from) {
        return uri;
    }
    let mut target = String::new();
    for var in ["SCRIPT_NAME", "PATH_INFO"] {
        encode_into(
            &mut target,
            environ.get_bytes(var).unwrap_or_default(),
            is_path_byte,
        );
    }
    if !target.starts_with('/') {
        target.insert(0, '/');
    }
    if let Some(query) = environ.get_bytes("QUERY_STRING").filter(|q| !q.is_empty()) {
        target.push('?');
        encode_into(&mut target, query, is_query_byte);
    }
    Uri::try_from(target).unwrap_or_else(|_| Uri::from_static("/"))
}

/// Appends `bytes` to `out`, percent-encoding the bytes `keep` refuses.
fn encode_into(out: &mut String, bytes: &[u8], keep: fn(u8) -> bool) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        if keep(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
}

/// RFC 3986 `pchar` and `/`, but not `%`: PATH_INFO is already decoded.
fn is_path_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&b)
}

/// RFC 3986 query characters, `%` included: QUERY_STRING is still encoded.
fn is_query_byte(b: u8) -> bool {
    is_path_byte(b) || b == b'?' || b == b'%'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &[u8])]) -> Environ {
        vars.iter().map(|&(n, v)| (n, v.to_vec())).collect()
    }

    #[test]
    fn headers_are_rebuilt_from_http_variables() {
        let e = env(&[
            ("HTTP_HOST", b"example.com"),
            ("HTTP_X_FOO_BAR", b"1, 2"),
            ("HTTP_ACCEPT", b"*/*"),
            ("HTTPS", b"on"),
            ("HTTP_", b"empty name"),
            ("HTTP_BAD\"NAME", b"x"),
            ("HTTP_X_BAD_VALUE", b"a\r\nb"),
            ("HTTP_X_LATIN1", b"caf\xe9"),
            ("CONTENT_TYPE", b"application/json"),
            ("CONTENT_LENGTH", b"42"),
            ("REQUEST_METHOD", b"GET"),
        ]);
        let h = headers_from_environ(&e);
        assert_eq!(h["host"], "example.com");
        assert_eq!(h["x-foo-bar"], "1, 2");
        assert_eq!(h["accept"], "*/*");
        assert_eq!(h["content-type"], "application/json");
        assert_eq!(h["content-length"], "42");
        assert_eq!(h["x-latin1"].as_bytes(), b"caf\xe9");
        assert!(!h.contains_key("x-bad-value"));
        assert!(!h.contains_key("https"));
        assert_eq!(h.len(), 6, "{h:?}");
    }

    #[test]
    fn empty_content_headers_are_left_out() {
        let h = headers_from_environ(&env(&[("CONTENT_TYPE", b""), ("CONTENT_LENGTH", b"")]));
        assert!(h.is_empty());
    }

    #[test]
    fn http_content_type_is_not_duplicated() {
        let h = headers_from_environ(&env(&[
            ("HTTP_CONTENT_TYPE", b"text/html"),
            ("CONTENT_TYPE", b"text/plain"),
        ]));
        assert_eq!(h.get_all("content-type").iter().count(), 1);
        assert_eq!(h["content-type"], "text/html");
    }

    #[test]
    fn uri_prefers_request_uri() {
        let e = env(&[
            ("REQUEST_URI", b"/a/b%20c?x=1"),
            ("SCRIPT_NAME", b"/a"),
            ("PATH_INFO", b"/b c"),
        ]);
        let uri = uri_from_environ(&e);
        assert_eq!(uri.path(), "/a/b%20c");
        assert_eq!(uri.query(), Some("x=1"));
    }

    #[test]
    fn uri_falls_back_to_script_name_and_path_info() {
        let e = env(&[
            ("REQUEST_URI", b"/bad uri"),
            ("SCRIPT_NAME", b"/app"),
            ("PATH_INFO", b"/b c/100%/\xff?"),
            ("QUERY_STRING", b"q=a%20b&r=\"x\""),
        ]);
        let uri = uri_from_environ(&e);
        assert_eq!(uri.path(), "/app/b%20c/100%25/%FF%3F");
        assert_eq!(uri.query(), Some("q=a%20b&r=%22x%22"));

        assert_eq!(uri_from_environ(&Environ::new()), "/");
        let e = env(&[("PATH_INFO", b"x")]);
        assert_eq!(uri_from_environ(&e), "/x");
    }

    #[test]
    fn request_accessors() {
        let e = env(&[
            ("REQUEST_METHOD", b"PATCH"),
            ("SCRIPT_NAME", b"/app"),
            ("PATH_INFO", b"/caf\xe9"),
        ]);
        let config: Config = [("k", "v")].into_iter().collect();
        let mut req = Request::new(e, config, RequestBody::empty());
        assert_eq!(req.method(), Method::PATCH);
        assert_eq!(req.uri(), "/app/caf%E9");
        assert_eq!(req.script_name(), "/app");
        assert_eq!(req.path_info(), "/caf\u{fffd}");
        assert_eq!(req.query_string(), "");
        assert_eq!(req.config().get("k"), Some("v"));
        assert_eq!(req.environ().get_bytes("PATH_INFO"), Some(&b"/caf\xe9"[..]));
        req.extensions_mut().insert(7u32);
        assert_eq!(req.extensions().get::<u32>(), Some(&7));
        assert!(format!("{req:?}").contains("PATCH"));
        assert_eq!(req.read_body_to_vec(0).unwrap(), b"");

        let req = Request::new(Environ::new(), Config::new(), RequestBody::empty());
        assert_eq!(req.method(), Method::GET);
    }

    #[test]
    fn body_limit() {
        let mut body = RequestBody::from_bytes(vec![7; 100]);
        let err = body.read_to_vec(99).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);

        let mut body = RequestBody::from_bytes(vec![7; 100]);
        assert_eq!(body.read_to_vec(100).unwrap().len(), 100);

        let mut req = Request::new(
            env(&[("CONTENT_LENGTH", b"100")]),
            Config::new(),
            RequestBody::from_bytes(vec![7; 100]),
        );
        let err = req.read_body_to_vec(10).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        // Nothing was read: the announced length was enough to refuse.
        assert_eq!(req.body_mut().read_to_vec(1000).unwrap().len(), 100);

        // A body longer than announced is still cut at the limit.
        let mut req = Request::new(
            env(&[("CONTENT_LENGTH", b"5")]),
            Config::new(),
            RequestBody::from_bytes(vec![7; 100]),
        );
        let err = req.read_body_to_vec(10).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        let mut req = Request::new(
            env(&[("CONTENT_LENGTH", b"5")]),
            Config::new(),
            RequestBody::from_bytes(vec![7; 5]),
        );
        assert_eq!(req.read_body_to_vec(5).unwrap(), [7; 5]);
        assert_eq!(req.into_body().read_to_vec(5).unwrap(), b"");
    }
}
