//! Response helpers: [`Html`], [`Bytes`], [`Redirect`], [`NoContent`],
//! [`NotModified`], and bodies streamed from an iterator of chunks.

use std::io::{self, Write};

use http::header::{CONTENT_TYPE, LOCATION};
use http::{HeaderValue, StatusCode};

use crate::response::ResponseBody;
use crate::{IntoResponse, Response};

const TEXT_HTML_UTF_8: &str = "text/html; charset=utf-8";

/// An HTML body: `content-type: text/html; charset=utf-8`.
///
/// ```
/// use app_sdk::IntoResponse;
/// use app_sdk::response::Html;
///
/// let res = Html("<h1>Hello</h1>").into_response();
/// assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
/// let res = Html(format!("<p>{}</p>", 42)).into_response();
/// assert_eq!(res.into_body().into_vec().unwrap(), b"<p>42</p>");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Html<T>(pub T);

impl<T: Into<ResponseBody>> IntoResponse for Html<T> {
    fn into_response(self) -> Response {
        with_type(self.0.into(), HeaderValue::from_static(TEXT_HTML_UTF_8))
    }
}

/// A body with a content type of the app's choosing.
///
/// ```
/// use app_sdk::IntoResponse;
/// use app_sdk::response::Bytes;
///
/// let png: Vec<u8> = vec![0x89, b'P', b'N', b'G'];
/// let res = Bytes::new("image/png", png).into_response();
/// assert_eq!(res.headers()["content-type"], "image/png");
/// ```
#[derive(Debug)]
pub struct Bytes {
    content_type: HeaderValue,
    body: ResponseBody,
}

impl Bytes {
    /// `body` as `content_type`. A content type that is not a valid header
    /// value becomes `application/octet-stream`.
    pub fn new(content_type: &str, body: impl Into<ResponseBody>) -> Bytes {
        let content_type = HeaderValue::from_str(content_type)
            .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
        Bytes {
            content_type,
            body: body.into(),
        }
    }
}

impl IntoResponse for Bytes {
    fn into_response(self) -> Response {
        with_type(self.body, self.content_type)
    }
}

fn with_type(body: ResponseBody, content_type: HeaderValue) -> Response {
    let mut res = Response::new(body);
    res.headers_mut().insert(CONTENT_TYPE, content_type);
    res
}

/// A redirect: a status and a `Location`.
///
/// | constructor | status | the client's next request |
/// |---|---|---|
/// | [`Redirect::to`] | 303 See Other | `GET` (after a form `POST`) |
/// | [`Redirect::found`] | 302 Found | usually `GET` |
/// | [`Redirect::temporary`] | 307 Temporary Redirect | same method and body |
/// | [`Redirect::permanent`] | 308 Permanent Redirect | same method and body |
///
/// The location may be relative (`/login`) or absolute (see
/// [`Request::absolute_url`](crate::Request::absolute_url)); characters a
/// header cannot hold (spaces, non-ASCII, controls) are percent-encoded.
///
/// ```
/// use app_sdk::IntoResponse;
/// use app_sdk::response::Redirect;
///
/// let res = Redirect::to("/orders/42").into_response();
/// assert_eq!(res.status(), 303);
/// assert_eq!(res.headers()["location"], "/orders/42");
/// let res = Redirect::permanent("/caf\u{e9} new").into_response();
/// assert_eq!(res.status(), 308);
/// assert_eq!(res.headers()["location"], "/caf%C3%A9%20new");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redirect {
    status: StatusCode,
    location: HeaderValue,
}

impl Redirect {
    /// 303 See Other.
    pub fn to(location: &str) -> Redirect {
        Redirect::with_status(StatusCode::SEE_OTHER, location)
    }

    /// 302 Found.
    pub fn found(location: &str) -> Redirect {
        Redirect::with_status(StatusCode::FOUND, location)
    }

    /// 307 Temporary Redirect.
    pub fn temporary(location: &str) -> Redirect {
        Redirect::with_status(StatusCode::TEMPORARY_REDIRECT, location)
    }

    /// 308 Permanent Redirect.
    pub fn permanent(location: &str) -> Redirect {
        Redirect::with_status(StatusCode::PERMANENT_REDIRECT, location)
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The `Location` value.
    pub fn location(&self) -> &HeaderValue {
        &self.location
    }

    fn with_status(status: StatusCode, location: &str) -> Redirect {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        let mut encoded = String::with_capacity(location.len());
        for &b in location.as_bytes() {
            if b.is_ascii_graphic() {
                encoded.push(char::from(b));
            } else {
                encoded.push('%');
                encoded.push(char::from(HEX[usize::from(b >> 4)]));
                encoded.push(char::from(HEX[usize::from(b & 15)]));
            }
        }
        // Only visible ASCII is left, which always makes a header value.
        let location =
            HeaderValue::from_str(&encoded).unwrap_or_else(|_| HeaderValue::from_static("/"));
        Redirect { status, location }
    }
}

impl IntoResponse for Redirect {
    fn into_response(self) -> Response {
        let mut res = self.status.into_response();
        res.headers_mut().insert(LOCATION, self.location);
        res
    }
}

/// 204 No Content.
///
/// ```
/// use app_sdk::IntoResponse;
/// use app_sdk::response::NoContent;
///
/// assert_eq!(NoContent.into_response().status(), 204);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NoContent;

impl IntoResponse for NoContent {
    fn into_response(self) -> Response {
        StatusCode::NO_CONTENT.into_response()
    }
}

/// 304 Not Modified, for apps that check validators themselves (most let
/// [`conditional`](crate::response::conditional) do it).
///
/// ```
/// use app_sdk::IntoResponse;
/// use app_sdk::response::NotModified;
///
/// assert_eq!(NotModified.into_response().status(), 304);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NotModified;

impl IntoResponse for NotModified {
    fn into_response(self) -> Response {
        StatusCode::NOT_MODIFIED.into_response()
    }
}

impl ResponseBody {
    /// A streamed body made of the chunks of `chunks`, each sent to the
    /// client as soon as it is made (the stream is flushed after each).
    ///
    /// ```
    /// use app_sdk::response::{Bytes, ResponseBody};
    ///
    /// let events = (1..=3).map(|i| format!("data: tick {i}\n\n"));
    /// let body = ResponseBody::chunks(events);
    /// assert!(body.is_stream());
    /// assert_eq!(body.into_vec().unwrap(), b"data: tick 1\n\ndata: tick 2\n\ndata: tick 3\n\n");
    ///
    /// // With a content type:
    /// let res = Bytes::new("text/event-stream", ResponseBody::chunks(["data: hi\n\n"]));
    /// ```
    pub fn chunks<I>(chunks: I) -> ResponseBody
    where
        I: IntoIterator + 'static,
        I::Item: AsRef<[u8]>,
    {
        ResponseBody::try_chunks(chunks.into_iter().map(Ok::<_, io::Error>))
    }

    /// A streamed body made of the chunks of `chunks`, flushed after each,
    /// that an error ends: the response is cut short (or, before the first
    /// chunk, becomes a 500) and the error is logged.
    ///
    /// ```
    /// use std::io;
    /// use app_sdk::response::ResponseBody;
    ///
    /// let rows = vec![Ok("a\n"), Err(io::Error::other("database gone"))];
    /// let err = ResponseBody::try_chunks(rows).into_vec().unwrap_err();
    /// assert_eq!(err.to_string(), "database gone");
    /// ```
    pub fn try_chunks<I, B, E>(chunks: I) -> ResponseBody
    where
        I: IntoIterator<Item = Result<B, E>> + 'static,
        B: AsRef<[u8]>,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        ResponseBody::stream(move |w| {
            for chunk in chunks {
                let chunk = chunk.map_err(io::Error::other)?;
                let bytes = chunk.as_ref();
                if bytes.is_empty() {
                    continue;
                }
                w.write_all(bytes)?;
                w.flush()?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        let res = Html(String::from("<b>")).into_response();
        assert_eq!(res.headers()[CONTENT_TYPE], TEXT_HTML_UTF_8);
        let res = Bytes::new("bad\nvalue", "x").into_response();
        assert_eq!(res.headers()[CONTENT_TYPE], "application/octet-stream");
        for (r, status) in [
            (Redirect::to("/a"), 303),
            (Redirect::found("/a"), 302),
            (Redirect::temporary("/a"), 307),
            (Redirect::permanent("/a"), 308),
        ] {
            assert_eq!(r.status(), status);
            assert_eq!(r.location(), "/a");
            let res = r.into_response();
            assert_eq!(res.status(), status);
            assert_eq!(res.headers()[LOCATION], "/a");
        }
        let r = Redirect::to("https://x.org/a b?q=\"1\"\r\n");
        assert_eq!(r.location(), "https://x.org/a%20b?q=\"1\"%0D%0A");
        assert_eq!(NoContent.into_response().status(), StatusCode::NO_CONTENT);
        assert_eq!(
            NotModified.into_response().status(),
            StatusCode::NOT_MODIFIED
        );
    }

    #[test]
    fn chunked_streams() {
        let body = ResponseBody::chunks(vec![b"a".to_vec(), vec![], b"bc".to_vec()]);
        assert_eq!(body.into_vec().unwrap(), b"abc");
        let body = ResponseBody::try_chunks([Ok::<_, String>("x"), Err("boom".to_owned())]);
        assert_eq!(body.into_vec().unwrap_err().to_string(), "boom");
    }
}
