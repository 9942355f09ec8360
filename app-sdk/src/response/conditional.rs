//! Conditional requests (RFC 9110 section 13): [`conditional`] answers 304
//! Not Modified or 412 Precondition Failed from a response's `ETag` and
//! `Last-Modified`, and [`ETag`] makes and compares entity tags.
//!
//! Pure code: header parsing never fails and never panics.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{
    CONTENT_LOCATION, ETAG, IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_UNMODIFIED_SINCE,
    LAST_MODIFIED,
};
use http::{HeaderMap, HeaderValue, Method, StatusCode};

use crate::response::ResponseBody;
use crate::{Request, Response};

/// An entity tag: an opaque validator of a representation, strong or weak.
///
/// ```
/// use app_sdk::response::ETag;
///
/// let tag = ETag::strong("v1").unwrap();
/// assert_eq!(tag.to_string(), "\"v1\"");
/// assert_eq!(ETag::parse("W/\"v1\"").unwrap(), ETag::weak("v1").unwrap());
/// assert!(tag.weak_eq(&ETag::weak("v1").unwrap()));
/// assert!(!tag.strong_eq(&ETag::weak("v1").unwrap()));
/// assert!(ETag::strong("has \"quotes\"").is_none());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ETag {
    weak: bool,
    tag: String,
}

impl ETag {
    /// A strong tag; `None` if `tag` holds characters a tag cannot (`"`,
    /// controls, spaces, non-ASCII).
    pub fn strong(tag: impl Into<String>) -> Option<ETag> {
        ETag::new(false, tag.into())
    }

    /// A weak tag; `None` if `tag` holds characters a tag cannot.
    pub fn weak(tag: impl Into<String>) -> Option<ETag> {
        ETag::new(true, tag.into())
    }

    fn new(weak: bool, tag: String) -> Option<ETag> {
        tag.bytes().all(is_etagc).then_some(ETag { weak, tag })
    }

    /// A tag made from a file's size and modification time, as Apache's
    /// `FileETag MTime Size` does.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use app_sdk::response::ETag;
    ///
    /// let tag = ETag::from_size_and_mtime(1234, Some(UNIX_EPOCH + Duration::from_nanos(1_500)), false);
    /// assert_eq!(tag.to_string(), "\"4d2-5dc\"");
    /// ```
    pub fn from_size_and_mtime(size: u64, mtime: Option<SystemTime>, weak: bool) -> ETag {
        let nanos = mtime
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        ETag {
            weak,
            tag: format!("{size:x}-{nanos:x}"),
        }
    }

    /// Parses one entity tag (`"x"` or `W/"x"`).
    pub fn parse(value: &str) -> Option<ETag> {
        let value = value.trim();
        let (weak, rest) = match value.strip_prefix("W/") {
            Some(rest) => (true, rest),
            None => (false, value),
        };
        let tag = rest.strip_prefix('"')?.strip_suffix('"')?;
        ETag::new(weak, tag.to_owned())
    }

    /// Whether the tag is weak.
    pub fn is_weak(&self) -> bool {
        self.weak
    }

    /// The opaque tag, without quotes.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// Strong comparison: both strong and the same.
    pub fn strong_eq(&self, other: &ETag) -> bool {
        !self.weak && !other.weak && self.tag == other.tag
    }

    /// Weak comparison: the same tag, weak or not.
    pub fn weak_eq(&self, other: &ETag) -> bool {
        self.tag == other.tag
    }

    /// The tag as a header value.
    pub fn to_header_value(&self) -> HeaderValue {
        // Only visible ASCII: always a valid header value.
        HeaderValue::from_str(&self.to_string())
            .unwrap_or_else(|_| HeaderValue::from_static("\"\""))
    }
}

impl fmt::Display for ETag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.weak {
            f.write_str("W/")?;
        }
        write!(f, "\"{}\"", self.tag)
    }
}

/// `etagc`: visible ASCII but `"`.
fn is_etagc(b: u8) -> bool {
    b == 0x21 || (0x23..=0x7e).contains(&b)
}

/// What a condition list (`If-Match`, `If-None-Match`) holds.
#[derive(Debug, PartialEq, Eq)]
enum TagList {
    Any,
    Tags(Vec<ETag>),
}

/// Parses `*` or a comma-separated list of entity tags, skipping members
/// that do not parse.
fn parse_list(headers: &HeaderMap, name: http::HeaderName) -> Option<TagList> {
    let mut tags = Vec::new();
    let mut present = false;
    for value in headers.get_all(name) {
        present = true;
        let Ok(text) = value.to_str() else { continue };
        if text.trim() == "*" {
            return Some(TagList::Any);
        }
        tags.extend(split_tags(text).filter_map(ETag::parse));
    }
    present.then_some(TagList::Tags(tags))
}

/// Splits a list of entity tags at the commas between them (a tag may hold
/// commas inside its quotes).
fn split_tags(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        loop {
            rest = rest.trim_start_matches([' ', '\t', ',']);
            if rest.is_empty() {
                return None;
            }
            let start = rest;
            // Skip an optional W/, then a quoted tag, then up to the comma.
            let body = rest.strip_prefix("W/").unwrap_or(rest);
            let end = match body.strip_prefix('"') {
                Some(inner) => match inner.find('"') {
                    Some(q) => start.len() - inner.len() + q + 1,
                    None => start.len(),
                },
                None => start.find(',').unwrap_or(start.len()),
            };
            let (item, after) = start.split_at(end);
            rest = after;
            if !item.trim().is_empty() {
                return Some(item);
            }
        }
    })
}

fn http_date(headers: &HeaderMap, name: http::HeaderName) -> Option<SystemTime> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v.trim()).ok())
}

/// A time truncated to whole seconds, as HTTP dates are.
pub(crate) fn to_seconds(t: SystemTime) -> SystemTime {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => UNIX_EPOCH + Duration::from_secs(d.as_secs()),
        Err(_) => UNIX_EPOCH,
    }
}

/// The outcome of the preconditions of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Precondition {
    /// Send the response.
    Proceed,
    /// Send 304 Not Modified.
    NotModified,
    /// Send 412 Precondition Failed.
    Failed,
}

/// Evaluates the preconditions of a request for a representation with these
/// validators, in the order of RFC 9110 section 13.2.2.
pub(crate) fn evaluate(
    method: &Method,
    headers: &HeaderMap,
    etag: Option<&ETag>,
    last_modified: Option<SystemTime>,
) -> Precondition {
    let last_modified = last_modified.map(to_seconds);
    let get_or_head = method == Method::GET || method == Method::HEAD;
    // 1. If-Match: some tag must match strongly.
    match parse_list(headers, IF_MATCH) {
        Some(TagList::Any) => {}
        Some(TagList::Tags(tags)) => {
            if !etag.is_some_and(|e| tags.iter().any(|t| t.strong_eq(e))) {
                return Precondition::Failed;
            }
        }
        // 2. If-Unmodified-Since, only without If-Match.
        None => {
            if let (Some(since), Some(modified)) =
                (http_date(headers, IF_UNMODIFIED_SINCE), last_modified)
            {
                if modified > since {
                    return Precondition::Failed;
                }
            }
        }
    }
    // 3. If-None-Match: no tag may match weakly.
    let none_match = match parse_list(headers, IF_NONE_MATCH) {
        Some(TagList::Any) => true,
        Some(TagList::Tags(tags)) => etag.is_some_and(|e| tags.iter().any(|t| t.weak_eq(e))),
        None => {
            // 4. If-Modified-Since, only without If-None-Match, GET and HEAD.
            if let (true, Some(since), Some(modified)) = (
                get_or_head,
                http_date(headers, IF_MODIFIED_SINCE),
                last_modified,
            ) {
                if modified <= since {
                    return Precondition::NotModified;
                }
            }
            false
        }
    };
    if none_match {
        return if get_or_head {
            Precondition::NotModified
        } else {
            Precondition::Failed
        };
    }
    Precondition::Proceed
}

/// Evaluates the request's conditional headers against a response's
/// validators, and answers 304 Not Modified or 412 Precondition Failed
/// instead of the response when they say so.
///
/// It applies to `GET` and `HEAD` requests answered with 200 and an `ETag`
/// or `Last-Modified` header; any other response comes back unchanged.
/// Following RFC 9110: `If-Match` (strong comparison, `*` matches) and then
/// `If-Unmodified-Since` can fail with 412; `If-None-Match` (weak
/// comparison, `*` matches) or, without it, `If-Modified-Since` give 304.
/// A 304 keeps the response's headers but its `Content-*` ones (except
/// `Content-Location`), and has no body.
///
/// ```
/// use app_sdk::http::header;
/// use app_sdk::response::conditional;
/// use app_sdk::{Config, Environ, IntoResponse, Request, RequestBody};
///
/// let env = Environ::from_iter([("HTTP_IF_NONE_MATCH", "W/\"v1\", \"v2\"")]);
/// let req = Request::new(env, Config::new(), RequestBody::empty());
/// let mut res = "report".into_response();
/// res.headers_mut().insert(header::ETAG, "\"v2\"".parse().unwrap());
/// let res = conditional(&req, res);
/// assert_eq!(res.status(), 304);
/// assert_eq!(res.headers()["etag"], "\"v2\"");
/// assert!(!res.headers().contains_key("content-type"));
/// ```
pub fn conditional(req: &Request, res: Response) -> Response {
    let method = req.method();
    if (method != Method::GET && method != Method::HEAD) || res.status() != StatusCode::OK {
        return res;
    }
    let etag = res
        .headers()
        .get(ETAG)
        .and_then(|v| v.to_str().ok())
        .and_then(ETag::parse);
    let last_modified = http_date(res.headers(), LAST_MODIFIED);
    if etag.is_none() && last_modified.is_none() {
        return res;
    }
    match evaluate(method, req.headers(), etag.as_ref(), last_modified) {
        Precondition::Proceed => res,
        Precondition::NotModified => not_modified(res.headers()),
        Precondition::Failed => precondition_failed(),
    }
}

/// A 304 with the headers of `headers` but the `Content-*` ones.
pub(crate) fn not_modified(headers: &HeaderMap) -> Response {
    let mut res = Response::new(ResponseBody::empty());
    *res.status_mut() = StatusCode::NOT_MODIFIED;
    for (name, value) in headers {
        if name.as_str().starts_with("content-") && name != CONTENT_LOCATION {
            continue;
        }
        res.headers_mut().append(name, value.clone());
    }
    res
}

/// A 412 Precondition Failed.
pub(crate) fn precondition_failed() -> Response {
    use crate::IntoResponse;
    (StatusCode::PRECONDITION_FAILED, "Precondition Failed\n").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, Environ, IntoResponse};
    use http::header::{CONTENT_LENGTH, CONTENT_TYPE, SET_COOKIE};

    fn headers(pairs: &[(http::HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.append(n, v.parse().unwrap());
        }
        h
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn tags() {
        assert_eq!(ETag::parse(" \"a\" ").unwrap().tag(), "a");
        assert!(ETag::parse("W/\"a\"").unwrap().is_weak());
        for bad in ["a", "\"a", "a\"", "w/\"a\"", "\"a\"b\"", "\"a b\"", ""] {
            assert_eq!(ETag::parse(bad), None, "{bad}");
        }
        assert_eq!(ETag::parse("\"\"").unwrap().tag(), "");
        let list: Vec<_> = split_tags("\"a,b\", W/\"c\" ,, junk, \"d").collect();
        assert_eq!(list, ["\"a,b\"", "W/\"c\"", "junk", "\"d"]);
        assert_eq!(ETag::weak("x").unwrap().to_header_value(), "W/\"x\"");
        assert_eq!(
            ETag::from_size_and_mtime(0, None, true).to_string(),
            "W/\"0-0\""
        );
    }

    #[test]
    fn rfc_order() {
        let tag = ETag::strong("v").unwrap();
        let weak = ETag::weak("v").unwrap();
        let get = Method::GET;
        let put = Method::PUT;
        let e = |h: &HeaderMap, m: &Method, t: Option<&ETag>, lm: Option<u64>| {
            evaluate(m, h, t, lm.map(at))
        };
        use Precondition::*;
        // No conditions.
        assert_eq!(e(&HeaderMap::new(), &get, Some(&tag), Some(5)), Proceed);
        // If-Match.
        let h = headers(&[(IF_MATCH, "\"x\", \"v\"")]);
        assert_eq!(e(&h, &put, Some(&tag), None), Proceed);
        assert_eq!(e(&h, &put, Some(&weak), None), Failed);
        assert_eq!(e(&h, &put, None, None), Failed);
        let h = headers(&[(IF_MATCH, "*")]);
        assert_eq!(e(&h, &put, None, None), Proceed);
        // If-Match wins over If-Unmodified-Since.
        let h = headers(&[
            (IF_MATCH, "\"v\""),
            (IF_UNMODIFIED_SINCE, "Thu, 01 Jan 1970 00:00:01 GMT"),
        ]);
        assert_eq!(e(&h, &put, Some(&tag), Some(100)), Proceed);
        // If-Unmodified-Since.
        let h = headers(&[(IF_UNMODIFIED_SINCE, "Thu, 01 Jan 1970 00:00:10 GMT")]);
        assert_eq!(e(&h, &put, Some(&tag), Some(10)), Proceed);
        assert_eq!(e(&h, &put, Some(&tag), Some(11)), Failed);
        assert_eq!(e(&h, &put, Some(&tag), None), Proceed);
        // If-None-Match: weak comparison.
        let h = headers(&[(IF_NONE_MATCH, "W/\"v\"")]);
        assert_eq!(e(&h, &get, Some(&tag), None), NotModified);
        assert_eq!(e(&h, &Method::HEAD, Some(&weak), None), NotModified);
        assert_eq!(e(&h, &put, Some(&tag), None), Failed);
        assert_eq!(
            e(&h, &get, Some(&ETag::strong("w").unwrap()), None),
            Proceed
        );
        assert_eq!(
            e(&headers(&[(IF_NONE_MATCH, "*")]), &get, None, None),
            NotModified
        );
        // If-None-Match wins over If-Modified-Since.
        let h = headers(&[
            (IF_NONE_MATCH, "\"other\""),
            (IF_MODIFIED_SINCE, "Thu, 01 Jan 1970 00:01:40 GMT"),
        ]);
        assert_eq!(e(&h, &get, Some(&tag), Some(50)), Proceed);
        // If-Modified-Since.
        let h = headers(&[(IF_MODIFIED_SINCE, "Thu, 01 Jan 1970 00:01:40 GMT")]);
        assert_eq!(e(&h, &get, None, Some(100)), NotModified);
        assert_eq!(e(&h, &get, None, Some(99)), NotModified);
        assert_eq!(e(&h, &get, None, Some(101)), Proceed);
        assert_eq!(e(&h, &put, None, Some(50)), Proceed);
        assert_eq!(e(&h, &get, None, None), Proceed);
        // Sub-second modification times count as their second.
        assert_eq!(
            evaluate(&get, &h, None, Some(at(100) + Duration::from_millis(900))),
            NotModified
        );
        // Bad dates are ignored.
        let h = headers(&[(IF_MODIFIED_SINCE, "yesterday")]);
        assert_eq!(e(&h, &get, None, Some(1)), Proceed);
    }

    fn request(method: &str, vars: &[(&str, &str)]) -> Request {
        let mut env: Environ = vars.iter().copied().collect();
        env.push("REQUEST_METHOD", method);
        Request::new(env, Config::new(), RequestBody::empty())
    }

    use crate::RequestBody;

    fn response() -> Response {
        let mut res = "body".into_response();
        let h = res.headers_mut();
        h.insert(ETAG, "\"t\"".parse().unwrap());
        h.insert(
            LAST_MODIFIED,
            "Thu, 01 Jan 1970 00:01:40 GMT".parse().unwrap(),
        );
        h.insert(CONTENT_LENGTH, "4".parse().unwrap());
        h.insert(CONTENT_LOCATION, "/x".parse().unwrap());
        h.insert(SET_COOKIE, "a=1".parse().unwrap());
        res
    }

    #[test]
    fn responses() {
        let inm = [("HTTP_IF_NONE_MATCH", "\"t\"")];
        let res = conditional(&request("GET", &inm), response());
        assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
        let h = res.headers();
        assert!(!h.contains_key(CONTENT_TYPE) && !h.contains_key(CONTENT_LENGTH));
        assert_eq!(h[CONTENT_LOCATION], "/x");
        assert_eq!(h[SET_COOKIE], "a=1");
        assert_eq!(h[LAST_MODIFIED], "Thu, 01 Jan 1970 00:01:40 GMT");
        assert_eq!(res.into_body().into_vec().unwrap(), b"");

        let ims = [("HTTP_IF_MODIFIED_SINCE", "Thu, 01 Jan 1970 00:01:40 GMT")];
        assert_eq!(
            conditional(&request("HEAD", &ims), response()).status(),
            304
        );
        // Other methods and statuses are left alone.
        assert_eq!(
            conditional(&request("POST", &inm), response()).status(),
            200
        );
        let mut created = response();
        *created.status_mut() = StatusCode::CREATED;
        assert_eq!(conditional(&request("GET", &inm), created).status(), 201);
        // No validators: nothing to compare.
        assert_eq!(
            conditional(&request("GET", &inm), "x".into_response()).status(),
            200
        );
        // If-Match on GET can fail.
        let im = [("HTTP_IF_MATCH", "\"other\"")];
        let res = conditional(&request("GET", &im), response());
        assert_eq!(res.status(), StatusCode::PRECONDITION_FAILED);
        // Nothing matches: the response as it was.
        let res = conditional(
            &request("GET", &[("HTTP_IF_NONE_MATCH", "\"u\"")]),
            response(),
        );
        assert_eq!(res.status(), 200);
        assert_eq!(res.into_body().into_vec().unwrap(), b"body");
    }

    #[test]
    fn random_headers_never_panic() {
        let mut rng = crate::test_rng::Rng::new(0x5eed_0004);
        let alphabet = b"W/\"a*, \t";
        let tag = ETag::strong("a").unwrap();
        for _ in 0..50_000 {
            let raw = rng.bytes_from(alphabet, 16);
            let Ok(value) = HeaderValue::from_bytes(&raw) else {
                continue;
            };
            let mut h = HeaderMap::new();
            h.insert(IF_NONE_MATCH, value.clone());
            h.insert(IF_MATCH, value);
            let _ = evaluate(&Method::GET, &h, Some(&tag), Some(at(1)));
        }
    }
}
