//! [`Cors`]: opt-in Cross-Origin Resource Sharing.

use std::sync::Arc;

use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};

use crate::response::ResponseBody;
use crate::router::{MethodSet, RequestHead};
use crate::{Request, Response, Router};

/// Which origins may make cross-origin requests.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Origins {
    Any,
    List(Vec<String>),
}

/// A Cross-Origin Resource Sharing policy, off unless an app adds it with
/// [`Router::cors`].
///
/// It answers preflight requests (`OPTIONS` with `Origin` and
/// `Access-Control-Request-Method`) from allowed origins, and adds
/// `Access-Control-Allow-Origin` (and the other headers it is configured
/// with) to the responses to allowed origins, error pages included. By
/// default no origin is allowed, the methods are `GET`, `HEAD` and `POST`,
/// no request header beyond the CORS-safelisted ones is allowed, and
/// credentials are not.
///
/// ```
/// use app_sdk::http::StatusCode;
/// use app_sdk::router::{Cors, MethodSet};
/// use app_sdk::{Config, Environ, Request, RequestBody, Router};
///
/// let router = Router::new().post("/api/items", || "created").cors(
///     Cors::new()
///         .allow_origin("https://shop.example")
///         .allow_methods(MethodSet::GET | MethodSet::POST)
///         .allow_headers(["content-type"])
///         .max_age(600),
/// );
///
/// let preflight = Environ::from_iter([
///     ("REQUEST_METHOD", "OPTIONS"),
///     ("PATH_INFO", "/api/items"),
///     ("HTTP_ORIGIN", "https://shop.example"),
///     ("HTTP_ACCESS_CONTROL_REQUEST_METHOD", "POST"),
/// ]);
/// let res = router.handle(Request::new(preflight, Config::new(), RequestBody::empty()));
/// assert_eq!(res.status(), StatusCode::NO_CONTENT);
/// assert_eq!(res.headers()["access-control-allow-origin"], "https://shop.example");
/// assert_eq!(res.headers()["access-control-allow-methods"], "GET, POST");
/// assert_eq!(res.headers()["access-control-max-age"], "600");
///
/// let post = Environ::from_iter([
///     ("REQUEST_METHOD", "POST"),
///     ("PATH_INFO", "/api/items"),
///     ("HTTP_ORIGIN", "https://evil.example"),
/// ]);
/// let res = router.handle(Request::new(post, Config::new(), RequestBody::empty()));
/// assert!(!res.headers().contains_key("access-control-allow-origin"));
/// ```
#[derive(Clone, Debug)]
pub struct Cors {
    origins: Origins,
    methods: MethodSet,
    headers: Vec<HeaderName>,
    any_header: bool,
    expose: Vec<HeaderName>,
    max_age: Option<u64>,
    credentials: bool,
}

impl Default for Cors {
    fn default() -> Cors {
        Cors {
            origins: Origins::List(Vec::new()),
            methods: MethodSet::GET | MethodSet::HEAD | MethodSet::POST,
            headers: Vec::new(),
            any_header: false,
            expose: Vec::new(),
            max_age: None,
            credentials: false,
        }
    }
}

/// Header names from text.
///
/// # Panics
///
/// If a name is not a valid header name.
fn names<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<HeaderName> {
    names
        .into_iter()
        .map(|n| {
            HeaderName::from_bytes(n.trim().as_bytes())
                .unwrap_or_else(|_| panic!("{n:?} is not a valid header name"))
        })
        .collect()
}

fn join(names: &[HeaderName]) -> Option<HeaderValue> {
    let text = names
        .iter()
        .map(HeaderName::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    HeaderValue::try_from(text).ok().filter(|v| !v.is_empty())
}

impl Cors {
    /// A policy that allows no origin yet.
    ///
    /// ```
    /// let cors = app_sdk::router::Cors::new();
    /// assert!(!cors.is_allowed_origin("https://a.example"));
    /// ```
    pub fn new() -> Cors {
        Cors::default()
    }

    /// Allows `origin` (`scheme://host[:port]`, compared exactly, without a
    /// trailing slash).
    ///
    /// ```
    /// let cors = app_sdk::router::Cors::new().allow_origin("https://a.example");
    /// assert!(cors.is_allowed_origin("https://a.example"));
    /// assert!(!cors.is_allowed_origin("https://b.example"));
    /// ```
    pub fn allow_origin(self, origin: &str) -> Cors {
        self.allow_origins([origin])
    }

    /// Allows each of `origins`.
    ///
    /// ```
    /// use app_sdk::router::Cors;
    ///
    /// let cors = Cors::new().allow_origins(["https://a.example", "https://b.example"]);
    /// assert!(cors.is_allowed_origin("https://b.example"));
    /// ```
    pub fn allow_origins<'a>(mut self, origins: impl IntoIterator<Item = &'a str>) -> Cors {
        if let Origins::List(list) = &mut self.origins {
            list.extend(
                origins
                    .into_iter()
                    .map(|o| o.trim().trim_end_matches('/').to_owned()),
            );
        }
        self
    }

    /// Allows every origin: `Access-Control-Allow-Origin: *`, or the request's
    /// origin when credentials are allowed (browsers refuse `*` then).
    ///
    /// ```
    /// use app_sdk::router::Cors;
    ///
    /// assert!(Cors::new().allow_any_origin().is_allowed_origin("https://x.example"));
    /// ```
    pub fn allow_any_origin(mut self) -> Cors {
        self.origins = Origins::Any;
        self
    }

    /// The methods preflight requests may ask for.
    ///
    /// ```
    /// use app_sdk::router::{Cors, MethodSet};
    ///
    /// let cors = Cors::new().allow_methods(MethodSet::GET | MethodSet::PUT | MethodSet::DELETE);
    /// # let _ = cors;
    /// ```
    pub fn allow_methods(mut self, methods: impl Into<MethodSet>) -> Cors {
        self.methods = methods.into();
        self
    }

    /// The request headers preflight requests may ask for.
    ///
    /// # Panics
    ///
    /// If a name is not a valid header name.
    ///
    /// ```
    /// let cors = app_sdk::router::Cors::new().allow_headers(["content-type", "x-requested-with"]);
    /// # let _ = cors;
    /// ```
    pub fn allow_headers<'a>(mut self, headers: impl IntoIterator<Item = &'a str>) -> Cors {
        self.headers.extend(names(headers));
        self
    }

    /// Allows whatever request headers a preflight request asks for.
    ///
    /// ```
    /// let cors = app_sdk::router::Cors::new().allow_any_header();
    /// # let _ = cors;
    /// ```
    pub fn allow_any_header(mut self) -> Cors {
        self.any_header = true;
        self
    }

    /// The response headers scripts may read
    /// (`Access-Control-Expose-Headers`).
    ///
    /// # Panics
    ///
    /// If a name is not a valid header name.
    ///
    /// ```
    /// let cors = app_sdk::router::Cors::new().expose_headers(["x-total-count"]);
    /// # let _ = cors;
    /// ```
    pub fn expose_headers<'a>(mut self, headers: impl IntoIterator<Item = &'a str>) -> Cors {
        self.expose.extend(names(headers));
        self
    }

    /// How long, in seconds, browsers may cache a preflight answer.
    ///
    /// ```
    /// let cors = app_sdk::router::Cors::new().max_age(3600);
    /// # let _ = cors;
    /// ```
    pub fn max_age(mut self, seconds: u64) -> Cors {
        self.max_age = Some(seconds);
        self
    }

    /// Whether requests may carry credentials (cookies, HTTP
    /// authentication): `Access-Control-Allow-Credentials: true`.
    ///
    /// ```
    /// use app_sdk::router::Cors;
    ///
    /// let cors = Cors::new().allow_origin("https://a.example").allow_credentials(true);
    /// # let _ = cors;
    /// ```
    pub fn allow_credentials(mut self, on: bool) -> Cors {
        self.credentials = on;
        self
    }

    /// Whether `origin` is allowed.
    ///
    /// ```
    /// let cors = app_sdk::router::Cors::new().allow_origin("https://a.example/");
    /// assert!(cors.is_allowed_origin("https://a.example"));
    /// ```
    pub fn is_allowed_origin(&self, origin: &str) -> bool {
        match &self.origins {
            Origins::Any => true,
            Origins::List(list) => list.iter().any(|o| o == origin),
        }
    }

    /// The allowed origin of a request with these headers.
    fn origin<'h>(&self, headers: &'h HeaderMap) -> Option<&'h HeaderValue> {
        let origin = headers.get(ORIGIN)?;
        self.is_allowed_origin(origin.to_str().ok()?)
            .then_some(origin)
    }

    /// The headers every answer to an allowed origin carries.
    fn common(&self, origin: &HeaderValue, out: &mut HeaderMap) {
        let any = self.origins == Origins::Any && !self.credentials;
        out.insert(
            ACCESS_CONTROL_ALLOW_ORIGIN,
            if any {
                HeaderValue::from_static("*")
            } else {
                origin.clone()
            },
        );
        if self.credentials {
            out.insert(
                ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
    }

    /// The answer to a preflight request from an allowed origin; `None` for
    /// other requests, which go on to the router.
    ///
    /// ```
    /// use app_sdk::router::Cors;
    /// use app_sdk::{Config, Environ, Request, RequestBody};
    ///
    /// let cors = Cors::new().allow_any_origin().allow_any_header();
    /// let env = Environ::from_iter([
    ///     ("REQUEST_METHOD", "OPTIONS"),
    ///     ("HTTP_ORIGIN", "https://a.example"),
    ///     ("HTTP_ACCESS_CONTROL_REQUEST_METHOD", "PUT"),
    ///     ("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "x-token"),
    /// ]);
    /// let res = cors.preflight(&Request::new(env, Config::new(), RequestBody::empty())).unwrap();
    /// assert_eq!(res.headers()["access-control-allow-origin"], "*");
    /// assert_eq!(res.headers()["access-control-allow-headers"], "x-token");
    /// ```
    pub fn preflight(&self, req: &Request) -> Option<Response> {
        if req.method() != Method::OPTIONS
            || !req.headers().contains_key(ACCESS_CONTROL_REQUEST_METHOD)
        {
            return None;
        }
        let origin = self.origin(req.headers())?;
        let mut res = Response::new(ResponseBody::empty());
        *res.status_mut() = StatusCode::NO_CONTENT;
        let out = res.headers_mut();
        self.common(origin, out);
        if let Ok(methods) = HeaderValue::try_from(self.methods.to_string()) {
            out.insert(ACCESS_CONTROL_ALLOW_METHODS, methods);
        }
        let allowed = if self.any_header {
            req.headers().get(ACCESS_CONTROL_REQUEST_HEADERS).cloned()
        } else {
            join(&self.headers)
        };
        if let Some(allowed) = allowed {
            out.insert(ACCESS_CONTROL_ALLOW_HEADERS, allowed);
        }
        if let Some(age) = self.max_age {
            out.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from(age));
        }
        out.append(
            VARY,
            HeaderValue::from_static(
                "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
            ),
        );
        Some(res)
    }

    /// Adds the CORS headers to a response to an allowed origin (and `Vary:
    /// Origin` to every response when the answer depends on the origin).
    /// Responses that already have `Access-Control-Allow-Origin` are left
    /// alone.
    ///
    /// ```
    /// use app_sdk::router::{Cors, RequestHead};
    /// use app_sdk::{Config, Environ, IntoResponse, Request, RequestBody};
    ///
    /// let cors = Cors::new().allow_origin("https://a.example").expose_headers(["x-total"]);
    /// let env = Environ::from_iter([("HTTP_ORIGIN", "https://a.example")]);
    /// let head = RequestHead::from_request(&Request::new(env, Config::new(), RequestBody::empty()));
    /// let res = cors.apply(&head, "data".into_response());
    /// assert_eq!(res.headers()["access-control-allow-origin"], "https://a.example");
    /// assert_eq!(res.headers()["access-control-expose-headers"], "x-total");
    /// assert_eq!(res.headers()["vary"], "Origin");
    /// ```
    pub fn apply(&self, head: &RequestHead, mut res: Response) -> Response {
        if res.headers().contains_key(ACCESS_CONTROL_ALLOW_ORIGIN) {
            return res;
        }
        let varies = self.origins != Origins::Any || self.credentials;
        if let Some(origin) = self.origin(head.headers()) {
            self.common(origin, res.headers_mut());
            if let Some(expose) = join(&self.expose) {
                res.headers_mut()
                    .insert(ACCESS_CONTROL_EXPOSE_HEADERS, expose);
            }
        }
        if varies {
            res.headers_mut()
                .append(VARY, HeaderValue::from_static("Origin"));
        }
        res
    }
}

impl<S: Send + Sync + 'static> Router<S> {
    /// Turns on CORS with this policy: preflight requests from allowed
    /// origins are answered before routing (by a [before
    /// hook](Router::before)), and the responses to allowed origins get
    /// their headers (by an [after hook](Router::after)).
    ///
    /// ```
    /// use app_sdk::Router;
    /// use app_sdk::router::Cors;
    ///
    /// let router = Router::new()
    ///     .get("/api/data", || "[]")
    ///     .cors(Cors::new().allow_any_origin());
    /// # let _ = router;
    /// ```
    pub fn cors(self, cors: Cors) -> Self {
        let cors = Arc::new(cors);
        let preflight = Arc::clone(&cors);
        self.before(move |req: &mut Request| preflight.preflight(req))
            .after(move |head: &RequestHead, res: Response| cors.apply(head, res))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, Environ, IntoResponse, RequestBody};

    fn req(vars: &[(&str, &str)]) -> Request {
        Request::new(
            vars.iter().copied().collect::<Environ>(),
            Config::new(),
            RequestBody::empty(),
        )
    }

    #[test]
    fn preflights() {
        let cors = Cors::new()
            .allow_origins(["https://a.example/"])
            .allow_headers(["Content-Type", "X-Token"])
            .allow_credentials(true)
            .max_age(60);
        let ok = req(&[
            ("REQUEST_METHOD", "OPTIONS"),
            ("HTTP_ORIGIN", "https://a.example"),
            ("HTTP_ACCESS_CONTROL_REQUEST_METHOD", "POST"),
        ]);
        let res = cors.preflight(&ok).unwrap();
        let h = res.headers();
        assert_eq!(h[ACCESS_CONTROL_ALLOW_ORIGIN], "https://a.example");
        assert_eq!(h[ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
        assert_eq!(h[ACCESS_CONTROL_ALLOW_HEADERS], "content-type, x-token");
        assert_eq!(h[ACCESS_CONTROL_ALLOW_METHODS], "GET, HEAD, POST");
        assert_eq!(h[ACCESS_CONTROL_MAX_AGE], "60");

        // Not a preflight, or not an allowed origin.
        let plain = req(&[
            ("REQUEST_METHOD", "OPTIONS"),
            ("HTTP_ORIGIN", "https://a.example"),
        ]);
        assert!(cors.preflight(&plain).is_none());
        let other = req(&[
            ("REQUEST_METHOD", "OPTIONS"),
            ("HTTP_ORIGIN", "https://b.example"),
            ("HTTP_ACCESS_CONTROL_REQUEST_METHOD", "POST"),
        ]);
        assert!(cors.preflight(&other).is_none());
        let get = req(&[
            ("REQUEST_METHOD", "GET"),
            ("HTTP_ORIGIN", "https://a.example"),
            ("HTTP_ACCESS_CONTROL_REQUEST_METHOD", "POST"),
        ]);
        assert!(cors.preflight(&get).is_none());
    }

    #[test]
    fn any_origin_with_credentials_echoes_the_origin() {
        let cors = Cors::new().allow_any_origin().allow_credentials(true);
        let head = RequestHead::from_request(&req(&[("HTTP_ORIGIN", "https://z.example")]));
        let res = cors.apply(&head, "x".into_response());
        assert_eq!(
            res.headers()[ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://z.example"
        );
        assert_eq!(res.headers()[VARY], "Origin");

        let cors = Cors::new().allow_any_origin();
        let res = cors.apply(&head, "x".into_response());
        assert_eq!(res.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert!(!res.headers().contains_key(VARY));
        // Without Origin: nothing to add.
        let head = RequestHead::from_request(&req(&[]));
        assert!(
            !cors
                .apply(&head, "x".into_response())
                .headers()
                .contains_key(ACCESS_CONTROL_ALLOW_ORIGIN)
        );
    }

    #[test]
    fn routers_with_cors() {
        let router = Router::new()
            .get("/a", || "a")
            .cors(Cors::new().allow_origin("https://a.example"));
        let res = router.handle(req(&[
            ("REQUEST_METHOD", "GET"),
            ("PATH_INFO", "/missing"),
            ("HTTP_ORIGIN", "https://a.example"),
        ]));
        // Error pages get the headers too.
        assert_eq!(res.status(), 404);
        assert_eq!(
            res.headers()[ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://a.example"
        );
        // A preflight answered before routing is not touched again.
        let res = router.handle(req(&[
            ("REQUEST_METHOD", "OPTIONS"),
            ("PATH_INFO", "/a"),
            ("HTTP_ORIGIN", "https://a.example"),
            ("HTTP_ACCESS_CONTROL_REQUEST_METHOD", "GET"),
        ]));
        assert_eq!(res.status(), 204);
        assert_eq!(
            res.headers()
                .get_all(ACCESS_CONTROL_ALLOW_ORIGIN)
                .iter()
                .count(),
            1
        );
    }

    #[test]
    #[should_panic(expected = "not a valid header name")]
    fn bad_header_names_panic() {
        let _ = Cors::new().allow_headers(["bad name"]);
    }
}
