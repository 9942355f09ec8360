//! [`Router`]: routes, hooks and error pages for an app, and what plugs
//! into it: [`Controller`]s with routes of their own, and [`Cors`].
//!
//! Submodules: [`methods`] ([`MethodSet`]), `pattern` (path patterns and
//! filters), `table` (route resolution), `params` ([`PathParams`]), `head`
//! ([`RequestHead`]), `dispatch` (the request pipeline), `debug_info`
//! (`/debug-info`) and `app` ([`export_router!`](crate::export_router)).

mod app;
mod debug_info;
mod dispatch;
mod head;
pub mod methods;
pub(crate) mod params;
pub(crate) mod pattern;
mod table;

use std::any::type_name;
use std::error::Error;
use std::fmt;
use std::sync::Arc;

use http::StatusCode;

use crate::handler::Handler;
use crate::{Config, HttpError, IntoResponse, Request, Response};

pub use crate::controller::Controller;
pub use crate::cors::Cors;
#[doc(hidden)]
pub use app::{RouterApp, init_router};
pub use head::RequestHead;
pub use methods::MethodSet;
pub use params::PathParams;
use pattern::{Filters, PathPattern};
use table::Table;

/// A route's handler with the router's state erased to `S`.
pub(crate) type Endpoint<S> = Arc<dyn Fn(&S, Request) -> Response + Send + Sync>;
type BeforeHook = Arc<dyn Fn(&mut Request) -> Option<Response> + Send + Sync>;
type AfterHook = Arc<dyn Fn(&RequestHead, Response) -> Response + Send + Sync>;
type ErrorHandler =
    Arc<dyn Fn(&RequestHead, &(dyn Error + 'static)) -> Option<Response> + Send + Sync>;
type StatusHandler = Arc<dyn Fn(&RequestHead, &HttpError) -> Response + Send + Sync>;

/// A value and the name `/debug-info` shows for it (a type name).
pub(crate) struct Named<T> {
    pub(crate) value: T,
    pub(crate) name: &'static str,
}

impl<T: Clone> Clone for Named<T> {
    fn clone(&self) -> Self {
        Named {
            value: self.value.clone(),
            name: self.name,
        }
    }
}

/// Routes requests to handlers, PoorWSGI-style, with an axum flavour.
///
/// Routes match `PATH_INFO`, the path under the app's mount point
/// (`SCRIPT_NAME`), so an app does not care where it is mounted; an empty
/// `PATH_INFO` (the request for `/app` when mounted at `/app`) counts as `/`.
/// A route is:
///
/// * a static path: `/about`;
/// * a pattern with parameters: `/users/<id:int>/<name>`, where a parameter
///   is `<name>` (one path segment), `<name:FILTER>` with a built-in filter
///   (`int`, `float`, `word`, `hex`, `uuid`) or a [custom
///   one](Router::filter), or `<name:re:REGEX>`;
/// * a [raw regex](Router::regex_route).
///
/// Static routes are looked up first, then patterns and regexes in the order
/// they were added. The first route that takes the path and the method wins.
/// `HEAD` is answered by the `GET` route unless a route lists `HEAD` (Apache
/// drops the body). When routes take the path but not the method, the router
/// answers `405 Method Not Allowed` with an `Allow` header, and `OPTIONS`
/// with `204 No Content` and `Allow`. Paths no route takes go to the
/// [default handler](Router::default_handler), or get a 404.
///
/// Handlers (see [`Handler`]) are functions and closures
/// that take extractors such as [`Path`](crate::extract::Path) or the [`Request`],
/// optionally after `&S`, the router's state, and return anything that
/// implements [`IntoResponse`].
///
/// Around handlers: [before hooks](Router::before) may answer early, [error
/// handlers](Router::on_error) answer errors of a type, [status
/// handlers](Router::on_status) make custom error pages, a panic becomes a
/// 500 page, and [after hooks](Router::after) see every response. In [debug
/// mode](Router::debug), error pages show details and `/debug-info`
/// describes the app.
///
/// ```
/// use app_sdk::extract::Path;
/// use app_sdk::http::StatusCode;
/// use app_sdk::router::MethodSet;
/// use app_sdk::{Config, Environ, HttpError, Request, RequestBody, Router};
///
/// fn user(Path(id): Path<i64>) -> Result<String, HttpError> {
///     if id == 1 { Ok("ann".into()) } else { Err(HttpError::not_found()) }
/// }
///
/// let router = Router::new()
///     .get("/", || "home")
///     .route("/users/<id:int>", MethodSet::GET | MethodSet::PUT, user);
///
/// let send = |method: &str, path: &str| {
///     let env = Environ::from_iter([("REQUEST_METHOD", method), ("PATH_INFO", path)]);
///     router.handle(Request::new(env, Config::new(), RequestBody::empty()))
/// };
/// assert_eq!(send("GET", "/users/1").into_body().into_vec().unwrap(), b"ann");
/// assert_eq!(send("GET", "/users/2").status(), StatusCode::NOT_FOUND);
/// assert_eq!(send("GET", "/users/x").status(), StatusCode::NOT_FOUND);
/// let res = send("DELETE", "/users/1");
/// assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
/// assert_eq!(res.headers()["allow"], "GET, HEAD, PUT, OPTIONS");
/// ```
pub struct Router<S = ()> {
    state: Arc<S>,
    table: Table<Named<Endpoint<S>>>,
    filters: Filters,
    default: Option<Named<Endpoint<S>>>,
    before: Vec<Named<BeforeHook>>,
    after: Vec<Named<AfterHook>>,
    error_handlers: Vec<Named<ErrorHandler>>,
    status_handlers: Vec<(StatusCode, Named<StatusHandler>)>,
    debug: Option<bool>,
    config: Option<Arc<Config>>,
}

impl Router<()> {
    /// A router without state.
    ///
    /// ```
    /// let router = app_sdk::Router::new().get("/", || "home");
    /// # let _ = router;
    /// ```
    pub fn new() -> Router<()> {
        Router::with_state(())
    }
}

impl Default for Router<()> {
    fn default() -> Router<()> {
        Router::new()
    }
}

impl<S: Send + Sync + 'static> Router<S> {
    /// A router whose handlers may take `&S`. The state is shared by every
    /// request (use atomics or locks inside it for what changes).
    ///
    /// ```
    /// use app_sdk::Router;
    ///
    /// struct Shop { name: String }
    ///
    /// fn name(shop: &Shop) -> String { shop.name.clone() }
    ///
    /// let router = Router::with_state(Shop { name: "bikes".into() }).get("/name", name);
    /// assert_eq!(router.state().name, "bikes");
    /// ```
    pub fn with_state(state: S) -> Router<S> {
        Router {
            state: Arc::new(state),
            table: Table::default(),
            filters: Filters::default(),
            default: None,
            before: Vec::new(),
            after: Vec::new(),
            error_handlers: Vec::new(),
            status_handlers: Vec::new(),
            debug: None,
            config: None,
        }
    }

    /// The state.
    ///
    /// ```
    /// let router = app_sdk::Router::with_state(42u32);
    /// assert_eq!(*router.state(), 42);
    /// ```
    pub fn state(&self) -> &S {
        &self.state
    }

    /// Adds a route for `methods` on `pattern` (see [`Router`] for the
    /// syntax).
    ///
    /// # Panics
    ///
    /// If the pattern is invalid (it does not start with `/`, a `<` is not
    /// closed, a filter is unknown, a regex does not compile...): a router is
    /// built in the app's `init`, where the panic is reported as the reason
    /// the app failed to start.
    ///
    /// ```
    /// use app_sdk::router::MethodSet;
    /// use app_sdk::{Request, Router};
    ///
    /// fn save(req: Request) -> String { format!("saved {}", req.param::<u32>("id").unwrap()) }
    ///
    /// let router = Router::new().route("/items/<id:int>", MethodSet::POST | MethodSet::PUT, save);
    /// # let _ = router;
    /// ```
    pub fn route<H, M>(self, pattern: &str, methods: impl Into<MethodSet>, handler: H) -> Self
    where
        H: Handler<S, M>,
        M: 'static,
    {
        let path = PathPattern::parse(pattern, &self.filters).unwrap_or_else(|e| panic!("{e}"));
        self.add(path, methods.into(), handler)
    }

    /// Adds a route whose path is a regex, matched against the whole path
    /// (`^` and `$` are implied). Its groups are the path parameters: named
    /// groups by name, the others by number (`"1"`, `"2"`...); groups that
    /// did not take part in the match are left out.
    ///
    /// # Panics
    ///
    /// If the regex does not compile.
    ///
    /// ```
    /// use app_sdk::router::MethodSet;
    /// use app_sdk::{Request, Router};
    ///
    /// fn archive(req: Request) -> String {
    ///     let year: u16 = req.param("year").unwrap();
    ///     let month: u8 = req.param("2").unwrap();
    ///     format!("{year}-{month:02}")
    /// }
    ///
    /// let router = Router::new().regex_route(
    ///     r"/archive/(?P<year>\d{4})/(\d{1,2})",
    ///     MethodSet::GET,
    ///     archive,
    /// );
    /// # let _ = router;
    /// ```
    pub fn regex_route<H, M>(self, regex: &str, methods: impl Into<MethodSet>, handler: H) -> Self
    where
        H: Handler<S, M>,
        M: 'static,
    {
        let path = PathPattern::regex(regex).unwrap_or_else(|e| panic!("{e}"));
        self.add(path, methods.into(), handler)
    }

    fn add<H, M>(mut self, path: PathPattern, methods: MethodSet, handler: H) -> Self
    where
        H: Handler<S, M>,
        M: 'static,
    {
        assert!(
            !methods.is_empty(),
            "the route {:?} has no method",
            path.source()
        );
        self.table.push(path, methods, endpoint(handler));
        self
    }

    /// Adds a `GET` route (which also answers `HEAD`).
    ///
    /// ```
    /// use app_sdk::Router;
    ///
    /// let router = Router::new().get("/", || "Hello, World!");
    /// # let _ = router;
    /// ```
    pub fn get<H: Handler<S, M>, M: 'static>(self, pattern: &str, handler: H) -> Self {
        self.route(pattern, MethodSet::GET, handler)
    }

    /// Adds a `POST` route.
    ///
    /// ```
    /// use app_sdk::{Request, Router};
    ///
    /// let router = Router::new().post("/echo", |mut req: Request| req.read_body_to_vec(1024).unwrap_or_default());
    /// # let _ = router;
    /// ```
    pub fn post<H: Handler<S, M>, M: 'static>(self, pattern: &str, handler: H) -> Self {
        self.route(pattern, MethodSet::POST, handler)
    }

    /// Adds a `PUT` route.
    ///
    /// ```
    /// let router = app_sdk::Router::new().put("/x", || "put");
    /// # let _ = router;
    /// ```
    pub fn put<H: Handler<S, M>, M: 'static>(self, pattern: &str, handler: H) -> Self {
        self.route(pattern, MethodSet::PUT, handler)
    }

    /// Adds a `DELETE` route.
    ///
    /// ```
    /// let router = app_sdk::Router::new().delete("/x", || "deleted");
    /// # let _ = router;
    /// ```
    pub fn delete<H: Handler<S, M>, M: 'static>(self, pattern: &str, handler: H) -> Self {
        self.route(pattern, MethodSet::DELETE, handler)
    }

    /// Adds a `PATCH` route.
    ///
    /// ```
    /// let router = app_sdk::Router::new().patch("/x", || "patched");
    /// # let _ = router;
    /// ```
    pub fn patch<H: Handler<S, M>, M: 'static>(self, pattern: &str, handler: H) -> Self {
        self.route(pattern, MethodSet::PATCH, handler)
    }

    /// Registers a custom filter for `<name:filter>` parameters: what it
    /// matches (a regex, which must not hold `/` unless values may span
    /// segments) and how the matched text becomes the parameter's value
    /// (`None` refuses it: the route does not match). A custom filter may
    /// replace a built-in one. Register filters before the routes that use
    /// them.
    ///
    /// # Panics
    ///
    /// If the name is not made of letters, digits and `_`, is `re`, or the
    /// regex does not compile.
    ///
    /// ```
    /// use app_sdk::{Config, Environ, Request, RequestBody, Router};
    ///
    /// let router = Router::new()
    ///     .filter("email", r"[^@/]+@[^@/]+", |s| Some(s.to_lowercase()))
    ///     .get("/users/<who:email>", |req: Request| req.param::<String>("who").unwrap());
    ///
    /// let env = Environ::from_iter([("PATH_INFO", "/users/Ann@Example.org")]);
    /// let res = router.handle(Request::new(env, Config::new(), RequestBody::empty()));
    /// assert_eq!(res.into_body().into_vec().unwrap(), b"ann@example.org");
    /// ```
    pub fn filter<F>(mut self, name: &str, regex: &str, converter: F) -> Self
    where
        F: Fn(&str) -> Option<String> + Send + Sync + 'static,
    {
        self.filters
            .add(name, regex, Arc::new(converter))
            .unwrap_or_else(|e| panic!("{e}"));
        self
    }

    /// Sets the handler for paths no route takes (instead of a 404), for
    /// every method.
    ///
    /// ```
    /// use app_sdk::{Request, Router};
    ///
    /// let router = Router::new().default_handler(|req: Request| format!("nothing at {}", req.path_info()));
    /// # let _ = router;
    /// ```
    pub fn default_handler<H: Handler<S, M>, M: 'static>(mut self, handler: H) -> Self {
        self.default = Some(endpoint(handler));
        self
    }

    /// Adds a hook that runs before the handler, after the route was
    /// resolved (so [`Request::matched_route`] and the path parameters are
    /// known), for every request, also those that end in 404, 405 or
    /// `OPTIONS`. It may change the request, or answer early by returning a
    /// response (the handler and later before hooks do not run; after hooks
    /// do). Hooks run in the order they were added.
    ///
    /// ```
    /// use app_sdk::http::StatusCode;
    /// use app_sdk::{HttpError, IntoResponse, Request, Router};
    ///
    /// let router = Router::new()
    ///     .get("/admin", || "secret")
    ///     .before(|req: &mut Request| {
    ///         let admin = req.environ().get("REMOTE_USER") == Some("admin");
    ///         if req.path_info().starts_with("/admin") && !admin {
    ///             return Some(HttpError::from(StatusCode::FORBIDDEN).into_response());
    ///         }
    ///         None
    ///     });
    /// # let _ = router;
    /// ```
    pub fn before<F>(mut self, hook: F) -> Self
    where
        F: Fn(&mut Request) -> Option<Response> + Send + Sync + 'static,
    {
        self.before.push(Named {
            value: Arc::new(hook),
            name: type_name::<F>(),
        });
        self
    }

    /// Adds a hook that sees, and may change, every response: those of
    /// handlers, of before hooks, error pages (then
    /// [`HttpError::of`] tells which error), 404, 405, `OPTIONS` and 500s
    /// from panics. Hooks run in the order they were added.
    ///
    /// ```
    /// use app_sdk::http::HeaderValue;
    /// use app_sdk::router::RequestHead;
    /// use app_sdk::{Response, Router};
    ///
    /// let router = Router::new().get("/", || "hi").after(|head: &RequestHead, mut res: Response| {
    ///     log::info!("{} {} -> {}", head.method(), head.path_info(), res.status());
    ///     res.headers_mut().insert("x-frame-options", HeaderValue::from_static("DENY"));
    ///     res
    /// });
    /// # let _ = router;
    /// ```
    pub fn after<F>(mut self, hook: F) -> Self
    where
        F: Fn(&RequestHead, Response) -> Response + Send + Sync + 'static,
    {
        self.after.push(Named {
            value: Arc::new(hook),
            name: type_name::<F>(),
        });
        self
    }

    /// Registers a handler for errors of type `E`: when a response carries
    /// an error ([`HttpError::of`]; handlers make those by returning an
    /// [`HttpError`] or an [`AnyError`](crate::AnyError)), the router tries
    /// the error's sources, outermost first, and then the [`HttpError`]
    /// itself; for each, the error handlers in the order they were added.
    /// The first handler whose type matches makes the response; if it is
    /// `200 OK`, it gets the error's status. Headers of the [`HttpError`]
    /// (such as `Allow`) are kept.
    ///
    /// ```
    /// use std::fmt;
    /// use app_sdk::http::StatusCode;
    /// use app_sdk::{AnyError, Config, Environ, Request, RequestBody, Router};
    /// use app_sdk::router::RequestHead;
    ///
    /// #[derive(Debug)]
    /// struct DbDown;
    /// impl fmt::Display for DbDown {
    ///     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str("db down") }
    /// }
    /// impl std::error::Error for DbDown {}
    ///
    /// fn query() -> Result<String, AnyError> { Err(DbDown.into()) }
    ///
    /// let router = Router::new()
    ///     .get("/q", query)
    ///     .on_error(|_head: &RequestHead, _err: &DbDown| {
    ///         (StatusCode::SERVICE_UNAVAILABLE, "try again later")
    ///     });
    /// let env = Environ::from_iter([("PATH_INFO", "/q")]);
    /// let res = router.handle(Request::new(env, Config::new(), RequestBody::empty()));
    /// assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    /// ```
    pub fn on_error<E, F, R>(mut self, handler: F) -> Self
    where
        E: Error + 'static,
        F: Fn(&RequestHead, &E) -> R + Send + Sync + 'static,
        R: IntoResponse,
    {
        self.error_handlers.push(Named {
            value: Arc::new(move |head: &RequestHead, err: &(dyn Error + 'static)| {
                err.downcast_ref::<E>()
                    .map(|e| handler(head, e).into_response())
            }),
            name: type_name::<E>(),
        });
        self
    }

    /// Sets the page for errors with `status` (a custom 404 or 500 page):
    /// it answers every error response with that status that no [error
    /// handler](Router::on_error) took — [`HttpError`]s and
    /// [`AnyError`](crate::AnyError)s from handlers, and the router's own
    /// 404, 405 and 500 (panics). Responses that handlers make themselves,
    /// such as `(StatusCode::NOT_FOUND, "no such user")`, are left alone. If
    /// the page is `200 OK`, it gets the error's status; the error's headers
    /// (`Allow` for a 405) are kept.
    ///
    /// ```
    /// use app_sdk::http::StatusCode;
    /// use app_sdk::router::RequestHead;
    /// use app_sdk::{Config, Environ, HttpError, Request, RequestBody, Router};
    ///
    /// let router = Router::new().on_status(StatusCode::NOT_FOUND, |head: &RequestHead, _: &HttpError| {
    ///     format!("Nothing at {}, sorry.", head.path_info())
    /// });
    /// let env = Environ::from_iter([("PATH_INFO", "/nope")]);
    /// let res = router.handle(Request::new(env, Config::new(), RequestBody::empty()));
    /// assert_eq!(res.status(), StatusCode::NOT_FOUND);
    /// assert_eq!(res.into_body().into_vec().unwrap(), b"Nothing at /nope, sorry.");
    /// ```
    pub fn on_status<F, R>(mut self, status: StatusCode, handler: F) -> Self
    where
        F: Fn(&RequestHead, &HttpError) -> R + Send + Sync + 'static,
        R: IntoResponse,
    {
        self.status_handlers.retain(|(s, _)| *s != status);
        self.status_handlers.push((
            status,
            Named {
                value: Arc::new(move |head: &RequestHead, err: &HttpError| {
                    handler(head, err).into_response()
                }),
                name: type_name::<F>(),
            },
        ));
        self
    }

    /// Turns debug mode on or off, whatever the configuration says. In debug
    /// mode error pages show the error's sources and details (a panic's
    /// message, location and backtrace), and `GET /debug-info` (under the
    /// mount point) lists the routes, filters, hooks and handlers, the
    /// request headers, the configuration (secrets masked) and the environ;
    /// before and after hooks run for it as for routes. Never turn it on in
    /// production.
    ///
    /// By default debug mode follows the `debug` value of the router's
    /// [configuration](Router::with_config).
    ///
    /// ```
    /// let router = app_sdk::Router::new().debug(true);
    /// assert!(router.is_debug());
    /// ```
    pub fn debug(mut self, on: bool) -> Self {
        self.debug = Some(on);
        self
    }

    /// Whether debug mode is on.
    pub fn is_debug(&self) -> bool {
        self.debug
            .unwrap_or_else(|| self.config.as_ref().is_some_and(|c| c.debug()))
    }

    /// Sets the app's configuration, which `/debug-info` shows and whose
    /// `debug` value turns debug mode on. [`export_router!`](crate::export_router)
    /// sets it to the configuration it gives the build function, unless the
    /// build function set one.
    ///
    /// ```
    /// use app_sdk::{Config, Router};
    ///
    /// let router = Router::new().with_config(Config::from_iter([("debug", "on")]));
    /// assert!(router.is_debug());
    /// assert_eq!(router.config().get("debug"), Some("on"));
    /// ```
    pub fn with_config(mut self, config: Config) -> Self {
        self.config = Some(Arc::new(config));
        self
    }

    /// The app's configuration (empty if none was set).
    ///
    /// ```
    /// assert!(app_sdk::Router::new().config().is_empty());
    /// ```
    pub fn config(&self) -> &Config {
        static EMPTY: Config = Config::new();
        self.config.as_deref().unwrap_or(&EMPTY)
    }

    /// Adds the routes of `other`, a router with its own state, after this
    /// router's, with its before and after hooks, error and status handlers
    /// (this router's come first) and custom filters; its default handler
    /// is used if this router has none. Its debug setting and configuration
    /// are dropped.
    ///
    /// ```
    /// use app_sdk::Router;
    ///
    /// struct Api { version: u32 }
    /// fn version(api: &Api) -> String { api.version.to_string() }
    ///
    /// let api = Router::with_state(Api { version: 2 }).get("/api/version", version);
    /// let router = Router::new().get("/", || "home").merge(api);
    /// # let _ = router;
    /// ```
    pub fn merge<T: Send + Sync + 'static>(mut self, other: Router<T>) -> Self {
        let state = Arc::clone(&other.state);
        let rehome = move |ep: Named<Endpoint<T>>| -> Named<Endpoint<S>> {
            let state = Arc::clone(&state);
            let call = ep.value;
            Named {
                value: Arc::new(move |_: &S, req: Request| call(&state, req)),
                name: ep.name,
            }
        };
        for route in other.table.into_routes() {
            self.table
                .push(route.path, route.methods, rehome(route.handler));
        }
        if self.default.is_none() {
            self.default = other.default.map(&rehome);
        }
        self.filters.extend_missing(&other.filters);
        self.before.extend(other.before);
        self.after.extend(other.after);
        self.error_handlers.extend(other.error_handlers);
        for (status, handler) in other.status_handlers {
            if !self.status_handlers.iter().any(|(s, _)| *s == status) {
                self.status_handlers.push((status, handler));
            }
        }
        self
    }

    /// A router with this router's custom filters and the state `state`,
    /// for [`Router::controller`].
    pub(crate) fn child<T: Send + Sync + 'static>(&self, state: T) -> Router<T> {
        let mut child = Router::with_state(state);
        child.filters = self.filters.clone();
        child
    }
}

/// Erases a handler's type.
fn endpoint<S, H, M>(handler: H) -> Named<Endpoint<S>>
where
    S: 'static,
    H: Handler<S, M>,
    M: 'static,
{
    Named {
        value: Arc::new(move |state: &S, req: Request| handler.call(state, req)),
        name: type_name::<H>(),
    }
}

impl<S> fmt::Debug for Router<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let routes: Vec<String> = self
            .table
            .routes()
            .iter()
            .map(|r| format!("{} {}", r.methods, r.path.source()))
            .collect();
        f.debug_struct("Router")
            .field("routes", &routes)
            .field("debug", &self.debug)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
