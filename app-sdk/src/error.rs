//! [`HttpError`] and [`AnyError`]: errors that become responses.

use std::borrow::Cow;
use std::error::Error;
use std::fmt::{self, Write as _};
use std::sync::Arc;

use http::header::{CONTENT_TYPE, HeaderName};
use http::{HeaderMap, HeaderValue, StatusCode};

#[cfg(feature = "digest")]
use crate::auth::digest::DigestRejection;
#[cfg(feature = "sessions")]
use crate::auth::session::SessionError;
use crate::extract::{ArgError, CookieError, FormError, JsonError};
use crate::response::{FileError, ResponseBody};
use crate::{IntoResponse, Response, html};

/// An HTTP error: a status, a message for the client, extra headers, and
/// optionally the error that caused it.
///
/// As a response it is an HTML page naming the status and the message (so the
/// message must be fit for the client's eyes; put internals in the
/// [source](HttpError::with_source) or the [detail](HttpError::with_detail),
/// which only a [`Router`](crate::Router) in debug mode shows). The response
/// also carries the error in its extensions ([`HttpError::of`]), which is how
/// a router finds the [error handlers](crate::Router::on_error) and
/// [status handlers](crate::Router::on_status) for it.
///
/// Handlers return it in a `Result`, often through `?` and a `From`
/// conversion of their own error types:
///
/// ```
/// use app_sdk::http::StatusCode;
/// use app_sdk::{HttpError, IntoResponse};
///
/// fn find(id: u32) -> Result<String, HttpError> {
///     if id == 7 {
///         Ok("seven".to_owned())
///     } else {
///         Err(HttpError::not_found().with_message(format!("no item {id}")))
///     }
/// }
///
/// let res = find(8).into_response();
/// assert_eq!(res.status(), StatusCode::NOT_FOUND);
/// assert_eq!(HttpError::of(&res).unwrap().message(), "no item 8");
/// let page = String::from_utf8(res.into_body().into_vec().unwrap()).unwrap();
/// assert!(page.contains("404 Not Found") && page.contains("no item 8"));
/// ```
#[derive(Clone)]
pub struct HttpError {
    // Boxed so that `Result<T, HttpError>` stays small.
    inner: Box<Inner>,
}

#[derive(Clone)]
struct Inner {
    status: StatusCode,
    message: Option<Cow<'static, str>>,
    headers: HeaderMap,
    source: Option<Arc<dyn Error + Send + Sync + 'static>>,
    detail: Option<String>,
}

impl HttpError {
    /// An error with this status and message.
    ///
    /// ```
    /// use app_sdk::HttpError;
    /// use app_sdk::http::StatusCode;
    ///
    /// let err = HttpError::new(StatusCode::CONFLICT, "the name is taken");
    /// assert_eq!(err.status(), 409);
    /// assert_eq!(err.message(), "the name is taken");
    /// ```
    pub fn new(status: StatusCode, message: impl Into<Cow<'static, str>>) -> HttpError {
        HttpError::from(status).with_message(message)
    }

    /// 400 Bad Request, with this message.
    ///
    /// ```
    /// assert_eq!(app_sdk::HttpError::bad_request("no name").status(), 400);
    /// ```
    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> HttpError {
        HttpError::new(StatusCode::BAD_REQUEST, message)
    }

    /// 403 Forbidden.
    ///
    /// ```
    /// assert_eq!(app_sdk::HttpError::forbidden().message(), "Forbidden");
    /// ```
    pub fn forbidden() -> HttpError {
        HttpError::from(StatusCode::FORBIDDEN)
    }

    /// 404 Not Found.
    ///
    /// ```
    /// assert_eq!(app_sdk::HttpError::not_found().status(), 404);
    /// ```
    pub fn not_found() -> HttpError {
        HttpError::from(StatusCode::NOT_FOUND)
    }

    /// 500 Internal Server Error.
    ///
    /// ```
    /// assert_eq!(app_sdk::HttpError::internal().status(), 500);
    /// ```
    pub fn internal() -> HttpError {
        HttpError::from(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The error with this message instead (the status's reason phrase by
    /// default).
    ///
    /// ```
    /// let err = app_sdk::HttpError::not_found().with_message("no such user");
    /// assert_eq!(err.to_string(), "404 Not Found: no such user");
    /// ```
    pub fn with_message(mut self, message: impl Into<Cow<'static, str>>) -> HttpError {
        self.inner.message = Some(message.into());
        self
    }

    /// The error with a header its response carries (`Allow` for a 405,
    /// `Retry-After` for a 503...), replacing every earlier value of that
    /// name; [`add_header`](HttpError::add_header) adds one instead. Custom
    /// pages made by status handlers keep it too. A value that is not a
    /// valid header value is left out.
    ///
    /// ```
    /// use app_sdk::http::{StatusCode, header};
    /// use app_sdk::{HttpError, IntoResponse};
    ///
    /// let err = HttpError::from(StatusCode::SERVICE_UNAVAILABLE)
    ///     .with_header(header::RETRY_AFTER, "60")
    ///     .with_header(header::RETRY_AFTER, "120");
    /// assert_eq!(err.into_response().headers()["retry-after"], "120");
    /// ```
    pub fn with_header(mut self, name: HeaderName, value: impl TryInto<HeaderValue>) -> HttpError {
        if let Ok(value) = value.try_into() {
            self.inner.headers.insert(name, value);
        }
        self
    }

    /// The error with one more value of a header, after those it has: for
    /// headers that may be repeated, such as several `WWW-Authenticate`
    /// challenges of a 401. Custom pages made by status handlers keep them
    /// all. A value that is not a valid header value is left out.
    ///
    /// ```
    /// use app_sdk::http::{StatusCode, header};
    /// use app_sdk::{HttpError, IntoResponse};
    ///
    /// let err = HttpError::from(StatusCode::UNAUTHORIZED)
    ///     .add_header(header::WWW_AUTHENTICATE, "Digest realm=\"shop\", algorithm=SHA-256")
    ///     .add_header(header::WWW_AUTHENTICATE, "Digest realm=\"shop\", algorithm=MD5");
    /// let res = err.into_response();
    /// let challenges: Vec<_> = res.headers().get_all("www-authenticate").iter().collect();
    /// assert_eq!(challenges.len(), 2);
    /// assert!(challenges[0].to_str().unwrap().ends_with("SHA-256"));
    /// ```
    pub fn add_header(mut self, name: HeaderName, value: impl TryInto<HeaderValue>) -> HttpError {
        if let Ok(value) = value.try_into() {
            self.inner.headers.append(name, value);
        }
        self
    }

    /// The error with the error that caused it: [error
    /// handlers](crate::Router::on_error) look for their type along the
    /// source chain, and debug pages show it.
    ///
    /// ```
    /// use std::error::Error;
    ///
    /// let io = std::io::Error::other("disk full");
    /// let err = app_sdk::HttpError::internal().with_source(io);
    /// assert_eq!(err.source().unwrap().to_string(), "disk full");
    /// ```
    pub fn with_source(mut self, source: impl Error + Send + Sync + 'static) -> HttpError {
        self.inner.source = Some(Arc::new(source));
        self
    }

    /// The error with details (a backtrace, a query...) that only debug pages
    /// show.
    ///
    /// ```
    /// let err = app_sdk::HttpError::internal().with_detail("SELECT 1 failed");
    /// assert_eq!(err.detail(), Some("SELECT 1 failed"));
    /// ```
    pub fn with_detail(mut self, detail: impl Into<String>) -> HttpError {
        self.inner.detail = Some(detail.into());
        self
    }

    /// The status.
    ///
    /// ```
    /// assert_eq!(app_sdk::HttpError::forbidden().status(), app_sdk::http::StatusCode::FORBIDDEN);
    /// ```
    pub fn status(&self) -> StatusCode {
        self.inner.status
    }

    /// The message: the one given, else the status's reason phrase.
    ///
    /// ```
    /// use app_sdk::HttpError;
    ///
    /// assert_eq!(HttpError::not_found().message(), "Not Found");
    /// assert_eq!(HttpError::bad_request("x").message(), "x");
    /// ```
    pub fn message(&self) -> &str {
        match &self.inner.message {
            Some(m) => m,
            None => self.inner.status.canonical_reason().unwrap_or("Error"),
        }
    }

    /// The headers the response carries.
    ///
    /// ```
    /// use app_sdk::http::header::ALLOW;
    ///
    /// let err = app_sdk::HttpError::internal().with_header(ALLOW, "GET");
    /// assert_eq!(err.headers()[ALLOW], "GET");
    /// ```
    pub fn headers(&self) -> &HeaderMap {
        &self.inner.headers
    }

    /// The details only debug pages show.
    ///
    /// ```
    /// assert_eq!(app_sdk::HttpError::internal().detail(), None);
    /// ```
    pub fn detail(&self) -> Option<&str> {
        self.inner.detail.as_deref()
    }

    /// The error a response was made from, if it was made from one: by
    /// [`HttpError::into_response`](IntoResponse::into_response), by an
    /// [`AnyError`], or by a [`Router`](crate::Router) (404, 405, panics).
    ///
    /// ```
    /// use app_sdk::{HttpError, IntoResponse};
    ///
    /// assert!(HttpError::of(&HttpError::forbidden().into_response()).is_some());
    /// assert!(HttpError::of(&"fine".into_response()).is_none());
    /// ```
    pub fn of(res: &Response) -> Option<&HttpError> {
        res.extensions().get::<HttpError>()
    }

    /// The error with this source, already shared.
    pub(crate) fn with_shared_source(mut self, source: Arc<dyn Error + Send + Sync>) -> HttpError {
        self.inner.source = Some(source);
        self
    }

    /// The error itself followed by its sources, outermost first.
    ///
    /// ```
    /// use app_sdk::HttpError;
    ///
    /// let err = HttpError::internal().with_source(std::fmt::Error);
    /// assert_eq!(err.causes().count(), 2);
    /// ```
    pub fn causes(&self) -> impl Iterator<Item = &(dyn Error + 'static)> {
        std::iter::successors(
            Some(self as &(dyn Error + 'static)),
            |e: &&(dyn Error + 'static)| (*e).source(),
        )
    }

    /// The error page, with the source chain and the detail if `debug`.
    pub(crate) fn render(&self, debug: bool) -> Response {
        let mut res = Response::new(ResponseBody::empty());
        *res.status_mut() = self.inner.status;
        let bodiless = self.inner.status.is_informational()
            || self.inner.status == StatusCode::NO_CONTENT
            || self.inner.status == StatusCode::NOT_MODIFIED;
        if !bodiless {
            res.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            *res.body_mut() = ResponseBody::from(self.page(debug));
        }
        // The error's headers replace the page's (all values of a name).
        for name in self.inner.headers.keys() {
            res.headers_mut().remove(name);
        }
        for (name, value) in &self.inner.headers {
            res.headers_mut().append(name, value.clone());
        }
        res.extensions_mut().insert(self.clone());
        res
    }

    fn page(&self, debug: bool) -> String {
        let title = self.inner.status.to_string();
        let mut body = format!("<h1>{}</h1>\n", html::escape(&title));
        if self.inner.message.is_some() {
            let _ = writeln!(body, "<p>{}</p>", html::escape(self.message()));
        }
        if debug {
            let causes: Vec<String> = self.causes().skip(1).map(|e| e.to_string()).collect();
            if !causes.is_empty() {
                body.push_str("<h2>Caused by</h2>\n<ol>\n");
                for cause in causes {
                    let _ = writeln!(body, "<li>{}</li>", html::escape(&cause));
                }
                body.push_str("</ol>\n");
            }
            if let Some(detail) = &self.inner.detail {
                let _ = writeln!(
                    body,
                    "<h2>Details</h2>\n<pre>{}</pre>",
                    html::escape(detail)
                );
            }
        }
        html::page(&title, &body)
    }
}

impl From<StatusCode> for HttpError {
    fn from(status: StatusCode) -> HttpError {
        HttpError {
            inner: Box::new(Inner {
                status,
                message: None,
                headers: HeaderMap::new(),
                source: None,
                detail: None,
            }),
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner.message {
            Some(m) => write!(f, "{}: {m}", self.inner.status),
            None => write!(f, "{}", self.inner.status),
        }
    }
}

impl fmt::Debug for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpError")
            .field("status", &self.inner.status)
            .field("message", &self.message())
            .field("headers", &self.inner.headers)
            .field("source", &self.inner.source.as_ref().map(|s| s.to_string()))
            .finish_non_exhaustive()
    }
}

impl Error for HttpError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|e| e as &(dyn Error + 'static))
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        self.render(false)
    }
}

/// Any error, for handlers that use `?` on errors of many types.
///
/// Every `E: std::error::Error + Send + Sync + 'static` converts into it. As a
/// response ([`into_http_error`](AnyError::into_http_error)) it is:
///
/// * the [`HttpError`] it holds;
/// * for an error of the SDK, the [`HttpError`] that error converts into,
///   with the same status as the error's own response: [`FormError`] (400,
///   413, 415...), [`JsonError`], [`ArgError`], [`FileError`] (404, 403),
///   [`DigestRejection`](crate::auth::digest::DigestRejection) (401 with its
///   challenges), [`CookieError`] and
///   [`SessionError`](crate::auth::session::SessionError) (500);
/// * for any other error, a 500 [`HttpError`] whose source is the error: the
///   client sees "500 Internal Server Error", the [error
///   handler](crate::Router::on_error) registered for the error's type (or
///   the type of one of its sources) can answer instead, and debug pages show
///   the error.
///
/// So `?` on the SDK's errors in a handler returning `Result<T, AnyError>`
/// answers as returning the error itself would.
///
/// ```
/// use app_sdk::http::StatusCode;
/// use app_sdk::{AnyError, HttpError, IntoResponse};
///
/// fn parse(text: &str) -> Result<String, AnyError> {
///     let n: u8 = text.parse()?;
///     if n == 0 {
///         return Err(HttpError::bad_request("zero").into());
///     }
///     Ok(format!("{}", n * 2))
/// }
///
/// assert_eq!(parse("4").into_response().status(), StatusCode::OK);
/// assert_eq!(parse("0").into_response().status(), StatusCode::BAD_REQUEST);
/// let res = parse("x").into_response();
/// assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
/// let err = HttpError::of(&res).unwrap();
/// assert!(err.causes().nth(1).unwrap().is::<std::num::ParseIntError>());
/// ```
pub struct AnyError(BoxError);

impl AnyError {
    /// An error with just a message (it becomes a 500).
    ///
    /// ```
    /// let err = app_sdk::AnyError::msg("the cache is cold");
    /// assert_eq!(err.to_string(), "the cache is cold");
    /// ```
    pub fn msg(message: impl Into<String>) -> AnyError {
        AnyError(message.into().into())
    }

    /// The error, if it is an `E`.
    ///
    /// ```
    /// let err = app_sdk::AnyError::from(std::fmt::Error);
    /// assert!(err.downcast_ref::<std::fmt::Error>().is_some());
    /// assert!(err.downcast_ref::<std::io::Error>().is_none());
    /// ```
    pub fn downcast_ref<E: Error + 'static>(&self) -> Option<&E> {
        self.0.downcast_ref::<E>()
    }

    /// The error, as a boxed `std::error::Error`.
    ///
    /// ```
    /// let inner = app_sdk::AnyError::from(std::fmt::Error).into_inner();
    /// assert!(inner.is::<std::fmt::Error>());
    /// ```
    pub fn into_inner(self) -> Box<dyn Error + Send + Sync + 'static> {
        self.0
    }

    /// The [`HttpError`] it holds, the one the SDK error it holds converts
    /// into (see [`AnyError`]), or else a 500 caused by the error.
    ///
    /// ```
    /// use app_sdk::extract::Args;
    /// use app_sdk::response::FileResponse;
    /// use app_sdk::{AnyError, HttpError};
    ///
    /// assert_eq!(AnyError::from(HttpError::forbidden()).into_http_error().status(), 403);
    /// let missing = Args::parse("").require::<u32>("page").unwrap_err();
    /// assert_eq!(AnyError::from(missing).into_http_error().status(), 400);
    /// let gone = FileResponse::open("/nonexistent/file").unwrap_err();
    /// assert_eq!(AnyError::from(gone).into_http_error().status(), 404);
    /// assert_eq!(AnyError::msg("oops").into_http_error().status(), 500);
    /// ```
    pub fn into_http_error(self) -> HttpError {
        let found = sdk_error::<HttpError>(self.0)
            .or_else(sdk_error::<FormError>)
            .or_else(sdk_error::<JsonError>)
            .or_else(sdk_error::<ArgError>)
            .or_else(sdk_error::<FileError>);
        #[cfg(feature = "digest")]
        let found = found.or_else(sdk_error::<DigestRejection>);
        let found = found.or_else(sdk_error::<CookieError>);
        #[cfg(feature = "sessions")]
        let found = found.or_else(sdk_error::<SessionError>);
        found.unwrap_or_else(|other| HttpError::internal().with_shared_source(Arc::from(other)))
    }
}

/// A boxed error, as [`AnyError`] holds it.
type BoxError = Box<dyn Error + Send + Sync + 'static>;

/// The [`HttpError`] `err` converts into if it is an `E`, else `err` back:
/// one link of [`AnyError::into_http_error`]'s chain.
fn sdk_error<E>(err: BoxError) -> Result<HttpError, BoxError>
where
    E: Error + Send + Sync + 'static,
    HttpError: From<E>,
{
    err.downcast::<E>().map(|e| HttpError::from(*e))
}

impl<E: Error + Send + Sync + 'static> From<E> for AnyError {
    fn from(err: E) -> AnyError {
        AnyError(Box::new(err))
    }
}

impl fmt::Debug for AnyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for AnyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl IntoResponse for AnyError {
    fn into_response(self) -> Response {
        self.into_http_error().into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::{ALLOW, WWW_AUTHENTICATE};

    fn body(res: Response) -> String {
        String::from_utf8(res.into_body().into_vec().unwrap()).unwrap()
    }

    #[test]
    fn pages_show_status_and_message() {
        let res = HttpError::new(StatusCode::FORBIDDEN, "<no>").into_response();
        assert_eq!(res.status(), 403);
        assert_eq!(res.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
        let page = body(res);
        assert!(page.contains("<h1>403 Forbidden</h1>"), "{page}");
        assert!(page.contains("<p>&lt;no&gt;</p>"), "{page}");

        let page = body(HttpError::not_found().into_response());
        assert!(!page.contains("<p>"), "{page}");
    }

    #[test]
    fn debug_pages_show_causes_and_details() {
        let err = HttpError::internal()
            .with_source(std::fmt::Error)
            .with_detail("trace <here>");
        assert!(!body(err.render(false)).contains("trace"));
        let page = body(err.render(true));
        assert!(page.contains("Caused by"), "{page}");
        assert!(page.contains("an error occurred when formatting"), "{page}");
        assert!(page.contains("trace &lt;here&gt;"), "{page}");
        assert_eq!(err.detail(), Some("trace <here>"));
    }

    #[test]
    fn headers_status_and_display() {
        let err = HttpError::from(StatusCode::METHOD_NOT_ALLOWED)
            .with_header(ALLOW, "GET, HEAD")
            .with_header(WWW_AUTHENTICATE, "bad\nvalue");
        assert_eq!(err.headers().len(), 1);
        assert_eq!(err.to_string(), "405 Method Not Allowed");
        assert_eq!(
            HttpError::bad_request("x").to_string(),
            "400 Bad Request: x"
        );
        let res = err.into_response();
        assert_eq!(res.headers()[ALLOW], "GET, HEAD");
        assert_eq!(HttpError::of(&res).unwrap().status(), 405);
        assert_eq!(HttpError::forbidden().message(), "Forbidden");
        assert!(format!("{:?}", HttpError::internal()).contains("500"));
    }

    #[test]
    fn bodiless_statuses_have_no_page() {
        let res = HttpError::from(StatusCode::NOT_MODIFIED).into_response();
        assert!(!res.headers().contains_key(CONTENT_TYPE));
        assert_eq!(res.body().as_bytes(), Some(&b""[..]));
    }

    #[test]
    fn repeated_headers() {
        let err = HttpError::from(StatusCode::UNAUTHORIZED)
            .with_header(ALLOW, "GET")
            .with_header(ALLOW, "POST")
            .add_header(WWW_AUTHENTICATE, "Digest a")
            .add_header(WWW_AUTHENTICATE, "bad\nvalue")
            .add_header(WWW_AUTHENTICATE, "Digest b");
        assert_eq!(err.headers().get_all(ALLOW).iter().count(), 1);
        assert_eq!(err.headers()[ALLOW], "POST");
        let res = err.into_response();
        let challenges: Vec<_> = res.headers().get_all(WWW_AUTHENTICATE).iter().collect();
        assert_eq!(challenges, ["Digest a", "Digest b"]);
        // The error's headers replace the page's.
        let res = HttpError::internal()
            .add_header(CONTENT_TYPE, "text/x-a")
            .add_header(CONTENT_TYPE, "text/x-b")
            .into_response();
        let types: Vec<_> = res.headers().get_all(CONTENT_TYPE).iter().collect();
        assert_eq!(types, ["text/x-a", "text/x-b"]);
    }

    #[test]
    fn any_error_answers_sdk_errors_as_they_do() {
        let statuses = |any: AnyError, own: StatusCode| {
            let http = any.into_http_error();
            assert_eq!(http.status(), own, "{http}");
            assert!(http.source().is_some() || own == StatusCode::UNAUTHORIZED);
        };
        statuses(
            FormError::Malformed("x".into()).into(),
            StatusCode::BAD_REQUEST,
        );
        statuses(
            FormError::BodyTooLarge { limit: 1 }.into(),
            StatusCode::PAYLOAD_TOO_LARGE,
        );
        statuses(
            JsonError::UnsupportedMediaType("text/plain".into()).into(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        );
        statuses(ArgError::new("n", None).into(), StatusCode::BAD_REQUEST);
        statuses(
            FileError(std::io::Error::from(std::io::ErrorKind::PermissionDenied)).into(),
            StatusCode::FORBIDDEN,
        );
        statuses(
            CookieError::Name("a b".into()).into(),
            StatusCode::INTERNAL_SERVER_ERROR,
        );
        #[cfg(feature = "sessions")]
        statuses(
            SessionError::MissingSecret.into(),
            StatusCode::INTERNAL_SERVER_ERROR,
        );
        // The message is the one the error's own response shows.
        let http = AnyError::from(ArgError::new("page", None)).into_http_error();
        assert_eq!(http.message(), "the argument \"page\" is missing");
        // Error handlers still find the SDK error as the source.
        assert!(http.causes().nth(1).unwrap().is::<ArgError>());
        // Other errors stay 500s caused by them.
        let http = AnyError::from(std::fmt::Error).into_http_error();
        assert_eq!(http.status(), 500);
        assert!(http.source().unwrap().is::<std::fmt::Error>());
    }

    #[test]
    fn any_error_keeps_http_errors_and_wraps_others() {
        let any = AnyError::from(HttpError::forbidden());
        assert!(any.downcast_ref::<HttpError>().is_some());
        assert_eq!(any.into_http_error().status(), 403);

        let any = AnyError::msg("db down");
        assert_eq!(any.to_string(), "db down");
        assert!(format!("{any:?}").contains("db down"));
        let http = any.into_http_error();
        assert_eq!(http.status(), 500);
        assert_eq!(http.source().unwrap().to_string(), "db down");
        assert_eq!(AnyError::msg("x").into_inner().to_string(), "x");
    }
}
