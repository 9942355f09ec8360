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

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;

use http::{HeaderMap, Method, Uri};

use crate::router::params::parse_value;
use crate::{Config, HttpError, IntoResponse, PathParams, Request, RequestId, Response};

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

/// The path parameters of the matched route, typed: a handler argument.
///
/// `T` is one value when the route has exactly one parameter (`Path<i64>`), a
/// tuple of values in the order of the pattern (`Path<(i64, String)>`), or
/// all of them ([`PathParams`], `HashMap<String, String>`). Values are read
/// with [`FromStr`]: one that does not parse answers 404 Not Found, as does a
/// route whose filter refused it; a count that does not match the route is a
/// bug in the app and answers 500.
///
/// ```
/// use app_sdk::extract::Path;
/// use app_sdk::{Config, Environ, Request, RequestBody, Router};
///
/// fn with_params(Path((id, what)): Path<(i64, String)>) -> String {
///     format!("Hello World, id = {id} what = \"{what}\"")
/// }
///
/// fn double(Path(n): Path<u32>) -> String {
///     (n * 2).to_string()
/// }
///
/// let router = Router::new()
///     .get("/with/params/<id:int>/<what>", with_params)
///     .get("/double/<n>", double);
/// let get = |path: &str| {
///     let env = Environ::from_iter([("REQUEST_METHOD", "GET"), ("PATH_INFO", path)]);
///     let res = router.handle(Request::new(env, Config::new(), RequestBody::empty()));
///     (res.status().as_u16(), res.into_body().into_vec().unwrap())
/// };
/// assert_eq!(get("/with/params/42/machWas"), (200, br#"Hello World, id = 42 what = "machWas""#.to_vec()));
/// assert_eq!(get("/with/params/x/machWas").0, 404);
/// assert_eq!(get("/double/21"), (200, b"42".to_vec()));
/// assert_eq!(get("/double/-1").0, 404);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Path<T>(pub T);

impl<T: FromPathParams> FromRequestParts for Path<T> {
    type Rejection = HttpError;

    fn from_request_parts(req: &mut Request) -> Result<Path<T>, HttpError> {
        T::from_path_params(req.path_params()).map(Path)
    }
}

/// What [`Path`] can hold: built from all the path parameters of a route.
///
/// ```
/// use app_sdk::extract::{FromPathParams, Path};
/// use app_sdk::{HttpError, PathParams, Router};
///
/// /// A `/<year>/<month>` pair.
/// struct Month { year: u16, month: u8 }
///
/// impl FromPathParams for Month {
///     fn from_path_params(params: &PathParams) -> Result<Self, HttpError> {
///         Ok(Month { year: params.parse("year")?, month: params.parse("month")? })
///     }
/// }
///
/// let router = Router::new().get("/<year:int>/<month:int>", |Path(m): Path<Month>| {
///     format!("{}-{:02}", m.year, m.month)
/// });
/// # let _ = router;
/// ```
pub trait FromPathParams: Sized {
    /// Builds the value (a 404 [`HttpError`] for a value that does not parse,
    /// a 500 for a count that does not match).
    fn from_path_params(params: &PathParams) -> Result<Self, HttpError>;
}

fn expect_count(params: &PathParams, n: usize) -> Result<(), HttpError> {
    if params.len() == n {
        Ok(())
    } else {
        Err(HttpError::internal().with_detail(format!(
            "Path expects {n} path parameter(s), the route has {}",
            params.len()
        )))
    }
}

fn nth<T>(params: &PathParams, i: usize) -> Result<T, HttpError>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    let (name, value) = params
        .iter()
        .nth(i)
        .ok_or_else(|| HttpError::internal().with_detail("too few path parameters"))?;
    parse_value(name, value)
}

macro_rules! scalar_params {
    ($($t:ty),*) => {$(
        /// The route's only parameter.
        impl FromPathParams for $t {
            fn from_path_params(params: &PathParams) -> Result<Self, HttpError> {
                expect_count(params, 1)?;
                nth(params, 0)
            }
        }
    )*};
}

scalar_params!(
    String, bool, char, i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize, f32, f64
);

macro_rules! tuple_params {
    ($n:literal; $($t:ident $i:tt),*) => {
        /// The route's parameters, in order.
        impl<$($t),*> FromPathParams for ($($t,)*)
        where
            $($t: FromStr, $t::Err: fmt::Display,)*
        {
            fn from_path_params(params: &PathParams) -> Result<Self, HttpError> {
                expect_count(params, $n)?;
                Ok(($(nth::<$t>(params, $i)?,)*))
            }
        }
    };
}

tuple_params!(1; A 0);
tuple_params!(2; A 0, B 1);
tuple_params!(3; A 0, B 1, C 2);
tuple_params!(4; A 0, B 1, C 2, D 3);
tuple_params!(5; A 0, B 1, C 2, D 3, E 4);
tuple_params!(6; A 0, B 1, C 2, D 3, E 4, F 5);

/// All the parameters.
impl FromPathParams for PathParams {
    fn from_path_params(params: &PathParams) -> Result<Self, HttpError> {
        Ok(params.clone())
    }
}

/// All the parameters, by name.
impl FromPathParams for HashMap<String, String> {
    fn from_path_params(params: &PathParams) -> Result<Self, HttpError> {
        Ok(params
            .iter()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::params::RouteMatch;
    use crate::{Environ, RequestBody};
    use std::sync::Arc;

    fn req(params: &[(&str, &str)]) -> Request {
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
    fn paths() {
        let mut r = req(&[("a", "1"), ("b", "x")]);
        let Path((a, b)) = Path::<(u8, String)>::from_request_parts(&mut r).unwrap();
        assert_eq!((a, b.as_str()), (1, "x"));
        let err = Path::<(u8, u8)>::from_request_parts(&mut r).unwrap_err();
        assert_eq!(err.status(), 404);
        let err = Path::<u8>::from_request_parts(&mut r).unwrap_err();
        assert_eq!(err.status(), 500);
        let Path(all) = Path::<HashMap<String, String>>::from_request_parts(&mut r).unwrap();
        assert_eq!(all["b"], "x");
        let Path(all) = Path::<PathParams>::from_request_parts(&mut r).unwrap();
        assert_eq!(all.len(), 2);
        let mut r = req(&[("c", "y")]);
        assert_eq!(Path::<char>::from_request_parts(&mut r).unwrap().0, 'y');
        assert_eq!(
            Path::<(String,)>::from_request_parts(&mut r).unwrap().0.0,
            "y"
        );
        let mut r = req(&[
            ("a", "1"),
            ("b", "2"),
            ("c", "3"),
            ("d", "4"),
            ("e", "5"),
            ("f", "6"),
        ]);
        let Path(t) = Path::<(u8, u8, u8, u8, u8, u8)>::from_request_parts(&mut r).unwrap();
        assert_eq!(t, (1, 2, 3, 4, 5, 6));
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
