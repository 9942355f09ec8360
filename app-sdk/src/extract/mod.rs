//! Extractors: handler arguments taken from the request.
//!
//! A router handler takes any number of arguments that implement
//! [`FromRequestParts`] (they read the request without consuming it), and
//! may end with one that implements [`FromRequest`] (it consumes the
//! request, for example to read its body; [`Request`] itself is one). When an
//! extractor fails, its rejection is the response and the handler is not
//! called.
//!
//! ```
//! use app_sdk::extract::Path;
//! use app_sdk::http::Method;
//! use app_sdk::{Request, Router};
//!
//! fn show(Path((id, what)): Path<(i64, String)>, method: Method, req: Request) -> String {
//!     format!("{method} #{id} {what} for {}", req.script_name())
//! }
//!
//! let router = Router::new().get("/things/<id:int>/<what>", show);
//! # let _ = router;
//! ```
//!
//! What the request holds, and the extractors and types that read it:
//!
//! | part of the request | extractors and types |
//! |---|---|
//! | the route's path parameters | [`Path`], [`FromPathParams`] |
//! | the query string | [`Args`], [`Query`], [`ArgError`] |
//! | a form body (urlencoded or multipart) and its files | [`Form`], [`FormLimits`], [`FormError`], [`UploadSink`], [`TempFiles`], [`InMemory`], [`Upload`], [`FileInfo`] |
//! | a `multipart/form-data` body, part by part (feature `multipart`) | [`Multipart`], [`Part`] |
//! | a JSON body | [`Json`], [`JsonError`] |
//! | the `Cookie` header, and the `Set-Cookie` values to answer with | [`Cookies`], [`Cookie`], [`SameSite`], [`CookieError`] |
//! | who the client is, behind trusted proxies | [`TrustedProxies`] |
//! | the method, URI, headers, configuration and id | [`Method`], [`Uri`], [`HeaderMap`], [`Config`], [`RequestId`] |

mod body;
mod client;
mod cookies;
mod form;
mod form_limits;
mod json;
#[cfg(feature = "multipart")]
mod multipart;
mod path;
pub(crate) mod query;
mod query_de;
mod upload;

use std::convert::Infallible;

use http::{HeaderMap, Method, Uri};

pub use crate::request_id::RequestId;
use crate::{Config, IntoResponse, Request, Response};
pub use client::{ProxyListError, TRUSTED_PROXIES_KEY, TrustedProxies};
pub use cookies::{Cookie, CookieError, Cookies, SameSite};
pub use form::Form;
pub use form_limits::{DEFAULT_MAX_PAIRS, FormError, FormLimits};
pub use json::{DEFAULT_JSON_LIMIT, Json, JsonError};
#[cfg(feature = "multipart")]
pub use multipart::{Multipart, Part};
pub use path::{FromPathParams, Path};
pub use query::{ArgError, Args};
pub use query_de::Query;
pub use upload::{FileInfo, InMemory, TempFiles, Upload, UploadSink};

/// Takes a value from a request without consuming it; a handler argument.
///
/// ```
/// use app_sdk::extract::FromRequestParts;
/// use app_sdk::{HttpError, Request, Router};
///
/// /// The `X-Api-Key` header, required.
/// struct ApiKey(String);
///
/// impl FromRequestParts for ApiKey {
///     type Rejection = HttpError;
///
///     fn from_request_parts(req: &mut Request) -> Result<Self, HttpError> {
///         req.headers()
///             .get("x-api-key")
///             .and_then(|v| v.to_str().ok())
///             .map(|v| ApiKey(v.to_owned()))
///             .ok_or_else(|| HttpError::from(app_sdk::http::StatusCode::UNAUTHORIZED))
///     }
/// }
///
/// fn secret(ApiKey(key): ApiKey) -> String {
///     format!("{} characters", key.len())
/// }
///
/// let router = Router::new().get("/secret", secret);
/// # let _ = router;
/// ```
pub trait FromRequestParts: Sized {
    /// The response when the value cannot be taken.
    type Rejection: IntoResponse;

    /// Takes the value.
    fn from_request_parts(req: &mut Request) -> Result<Self, Self::Rejection>;
}

/// Takes a value from a request, consuming it; the last argument of a
/// handler.
///
/// [`Request`] implements it, and so does every [`FromRequestParts`] type
/// (through the marker `M`, which only keeps the two kinds apart).
///
/// ```
/// use app_sdk::extract::FromRequest;
/// use app_sdk::{HttpError, Request, Router};
///
/// /// The request body as UTF-8 text, at most 4 KiB.
/// struct Text(String);
///
/// impl FromRequest for Text {
///     type Rejection = HttpError;
///
///     fn from_request(mut req: Request) -> Result<Self, HttpError> {
///         let bytes = req
///             .read_body_to_vec(4096)
///             .map_err(|e| HttpError::bad_request(e.to_string()))?;
///         String::from_utf8(bytes)
///             .map(Text)
///             .map_err(|_| HttpError::bad_request("the body is not UTF-8"))
///     }
/// }
///
/// let router = Router::new().post("/shout", |Text(t): Text| t.to_uppercase());
/// # let _ = router;
/// ```
pub trait FromRequest<M = ViaRequest>: Sized {
    /// The response when the value cannot be taken.
    type Rejection: IntoResponse;

    /// Takes the value.
    fn from_request(req: Request) -> Result<Self, Self::Rejection>;
}

/// The marker of [`FromRequest`] implementations that consume the request.
#[derive(Debug)]
pub enum ViaRequest {}

/// The marker of the [`FromRequest`] implementation of [`FromRequestParts`]
/// types.
#[derive(Debug)]
pub enum ViaParts {}

impl FromRequest for Request {
    type Rejection = Infallible;

    fn from_request(req: Request) -> Result<Request, Infallible> {
        Ok(req)
    }
}

impl<T: FromRequestParts> FromRequest<ViaParts> for T {
    type Rejection = T::Rejection;

    fn from_request(mut req: Request) -> Result<T, T::Rejection> {
        T::from_request_parts(&mut req)
    }
}

/// Never happens.
impl IntoResponse for Infallible {
    fn into_response(self) -> Response {
        match self {}
    }
}

/// `None` when `T` cannot be taken.
impl<T: FromRequestParts> FromRequestParts for Option<T> {
    type Rejection = Infallible;

    fn from_request_parts(req: &mut Request) -> Result<Option<T>, Infallible> {
        Ok(T::from_request_parts(req).ok())
    }
}

/// The request method.
impl FromRequestParts for Method {
    type Rejection = Infallible;

    fn from_request_parts(req: &mut Request) -> Result<Method, Infallible> {
        Ok(req.method().clone())
    }
}

/// The request URI.
impl FromRequestParts for Uri {
    type Rejection = Infallible;

    fn from_request_parts(req: &mut Request) -> Result<Uri, Infallible> {
        Ok(req.uri().clone())
    }
}

/// The request headers.
impl FromRequestParts for HeaderMap {
    type Rejection = Infallible;

    fn from_request_parts(req: &mut Request) -> Result<HeaderMap, Infallible> {
        Ok(req.headers().clone())
    }
}

/// The `RustgiAppConfig` pairs in effect for the request's URL.
impl FromRequestParts for Config {
    type Rejection = Infallible;

    fn from_request_parts(req: &mut Request) -> Result<Config, Infallible> {
        Ok(req.config().clone())
    }
}

/// The request's id.
impl FromRequestParts for RequestId {
    type Rejection = Infallible;

    fn from_request_parts(req: &mut Request) -> Result<RequestId, Infallible> {
        Ok(req
            .extensions()
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(RequestId::generate))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::params::RouteMatch;
    use crate::{Environ, RequestBody};
    use std::sync::Arc;

    /// A `PUT /u?x` request that matched a route with `params`.
    pub(crate) fn req(params: &[(&str, &str)]) -> Request {
        let mut req = Request::new(
            Environ::from_iter([("REQUEST_METHOD", "PUT"), ("REQUEST_URI", "/u?x")]),
            Config::from_iter([("k", "v")]),
            RequestBody::empty(),
        );
        req.extensions_mut().insert(RouteMatch {
            pattern: Arc::from("/p"),
            params: params.iter().copied().collect(),
        });
        req
    }

    #[test]
    fn parts() {
        let mut r = req(&[]);
        assert_eq!(Method::from_request_parts(&mut r).unwrap(), Method::PUT);
        assert_eq!(Uri::from_request_parts(&mut r).unwrap(), "/u?x");
        assert!(HeaderMap::from_request_parts(&mut r).unwrap().is_empty());
        assert_eq!(
            Config::from_request_parts(&mut r).unwrap().get("k"),
            Some("v")
        );
        let id = RequestId::from_request_parts(&mut r).unwrap();
        assert_eq!(id.as_str(), r.request_id());
        assert!(
            Option::<Path<u8>>::from_request_parts(&mut r)
                .unwrap()
                .is_none()
        );
        let r = <Method as FromRequest<ViaParts>>::from_request(req(&[])).unwrap();
        assert_eq!(r, Method::PUT);
        assert_eq!(
            Request::from_request(req(&[])).unwrap().method(),
            Method::PUT
        );
    }
}
