//! [`RequestHead`]: what hooks and error handlers know of a request.

use http::{HeaderMap, Method, Uri};

use super::params::{PathParams, RouteMatch};
use crate::Request;
use crate::extract::RequestId;

/// The method, URI, headers, mount point, matched route and id of a request:
/// what [after hooks](crate::Router::after), [error
/// handlers](crate::Router::on_error) and [status
/// handlers](crate::Router::on_status) see of it, since the handler consumed
/// the [`Request`] itself.
///
/// ```
/// use app_sdk::router::RequestHead;
/// use app_sdk::{Config, Environ, Request, RequestBody};
///
/// let env = Environ::from_iter([
///     ("REQUEST_METHOD", "GET"),
///     ("SCRIPT_NAME", "/app"),
///     ("PATH_INFO", "/items"),
///     ("HTTP_ORIGIN", "https://example.org"),
/// ]);
/// let req = Request::new(env, Config::new(), RequestBody::empty());
/// let head = RequestHead::from_request(&req);
/// assert_eq!(head.method(), "GET");
/// assert_eq!(head.path_info(), "/items");
/// assert_eq!(head.headers()["origin"], "https://example.org");
/// assert_eq!(head.matched_route(), None);
/// ```
#[derive(Clone, Debug)]
pub struct RequestHead {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    script_name: String,
    path_info: String,
    request_id: RequestId,
    route: Option<RouteMatch>,
    debug: bool,
}

impl RequestHead {
    /// The head of `req`.
    pub fn from_request(req: &Request) -> RequestHead {
        RequestHead {
            method: req.method().clone(),
            uri: req.uri().clone(),
            headers: req.headers().clone(),
            script_name: req.script_name().to_owned(),
            path_info: req.path_info().to_owned(),
            request_id: req
                .extensions()
                .get::<RequestId>()
                .cloned()
                .unwrap_or_else(RequestId::generate),
            route: req.extensions().get::<RouteMatch>().cloned(),
            debug: false,
        }
    }

    pub(crate) fn with_debug(mut self, debug: bool) -> RequestHead {
        self.debug = debug;
        self
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The request target as the client sent it.
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// The request headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// `SCRIPT_NAME`: where the app is mounted.
    pub fn script_name(&self) -> &str {
        &self.script_name
    }

    /// `PATH_INFO`: the path under the mount point, which routes match.
    pub fn path_info(&self) -> &str {
        &self.path_info
    }

    /// The request's id.
    ///
    /// ```
    /// use app_sdk::router::RequestHead;
    /// use app_sdk::{Config, Environ, Request, RequestBody};
    ///
    /// let env = Environ::from_iter([("UNIQUE_ID", "abc")]);
    /// let head = RequestHead::from_request(&Request::new(env, Config::new(), RequestBody::empty()));
    /// assert_eq!(head.request_id().as_str(), "abc");
    /// ```
    pub fn request_id(&self) -> &RequestId {
        &self.request_id
    }

    /// The pattern of the route the request matched.
    ///
    /// ```
    /// use app_sdk::http::HeaderValue;
    /// use app_sdk::router::RequestHead;
    /// use app_sdk::{Config, Environ, Request, RequestBody, Response, Router};
    ///
    /// let router = Router::new().get("/items/<id:int>", || "item").after(|head: &RequestHead, mut res: Response| {
    ///     let route = head.matched_route().unwrap_or("none").to_owned();
    ///     res.headers_mut().insert("x-route", HeaderValue::try_from(route).unwrap());
    ///     res
    /// });
    /// let env = Environ::from_iter([("PATH_INFO", "/items/3")]);
    /// let res = router.handle(Request::new(env, Config::new(), RequestBody::empty()));
    /// assert_eq!(res.headers()["x-route"], "/items/<id:int>");
    /// ```
    pub fn matched_route(&self) -> Option<&str> {
        self.route.as_ref().map(|m| &*m.pattern)
    }

    /// The path parameters of the route the request matched.
    ///
    /// ```
    /// use app_sdk::router::RequestHead;
    /// use app_sdk::{Config, Environ, Request, RequestBody};
    ///
    /// let head = RequestHead::from_request(&Request::new(Environ::new(), Config::new(), RequestBody::empty()));
    /// assert!(head.path_params().is_none());
    /// ```
    pub fn path_params(&self) -> Option<&PathParams> {
        self.route.as_ref().map(|m| &m.params)
    }

    /// Whether the router runs in debug mode (pages may show details).
    ///
    /// ```
    /// use app_sdk::router::RequestHead;
    /// use app_sdk::{Config, Environ, Request, RequestBody};
    ///
    /// let head = RequestHead::from_request(&Request::new(Environ::new(), Config::new(), RequestBody::empty()));
    /// assert!(!head.is_debug());
    /// ```
    pub fn is_debug(&self) -> bool {
        self.debug
    }
}
