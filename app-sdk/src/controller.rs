//! [`Controller`]: a struct with shared state and configuration that
//! declares its routes.

use crate::Router;

/// A controller, as 15Watt's `BaseController`: a struct holding what its
/// handlers share (the configuration, a connection pool, counters...),
/// created once per process when the app starts, whose methods taking
/// `&self` are handlers for the routes it declares.
///
/// Create it in the build function of [`export_router!`](crate::export_router)
/// (or in [`App::init`](crate::App::init)) and add it to the app's router
/// with [`Router::controller`]. Its routes may use the custom filters the
/// app's router had when the controller was added.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use app_sdk::extract::Path;
/// use app_sdk::{Config, Environ, InitError, Request, RequestBody, Router};
/// use app_sdk::router::Controller;
///
/// struct ExampleController {
///     greeting: String,
///     hits: AtomicU64,
/// }
///
/// impl ExampleController {
///     fn new(config: &Config) -> Result<Self, InitError> {
///         Ok(ExampleController {
///             greeting: config.get("greeting").unwrap_or("Hello World").to_owned(),
///             hits: AtomicU64::new(0),
///         })
///     }
///
///     fn index(&self) -> String {
///         let n = self.hits.fetch_add(1, Ordering::Relaxed) + 1;
///         format!("{} #{n}", self.greeting)
///     }
///
///     fn with_params(&self, Path((id, what)): Path<(i64, String)>) -> String {
///         format!("{}, id = {id} what = \"{what}\"", self.greeting)
///     }
/// }
///
/// impl Controller for ExampleController {
///     fn routes(router: Router<Self>) -> Router<Self> {
///         router
///             .get("/", Self::index)
///             .get("/with/params/<id:int>/<what>", Self::with_params)
///     }
/// }
///
/// fn app(config: &Config) -> Result<Router, InitError> {
///     Ok(Router::new().controller(ExampleController::new(config)?))
/// }
///
/// let router = app(&Config::new()).unwrap();
/// let env = Environ::from_iter([("PATH_INFO", "/with/params/42/machWas")]);
/// let res = router.handle(Request::new(env, Config::new(), RequestBody::empty()));
/// assert_eq!(res.into_body().into_vec().unwrap(), br#"Hello World, id = 42 what = "machWas""#);
/// ```
pub trait Controller: Send + Sync + Sized + 'static {
    /// Declares the controller's routes on a router whose state is the
    /// controller, and returns it. Hooks and error handlers added here apply
    /// to the whole app, as with [`Router::merge`].
    fn routes(router: Router<Self>) -> Router<Self>;
}

impl<S: Send + Sync + 'static> Router<S> {
    /// Adds the routes of a [`Controller`] (after the routes already added).
    ///
    /// ```
    /// use app_sdk::Router;
    /// use app_sdk::router::Controller;
    ///
    /// struct Pages { about: String }
    ///
    /// impl Pages {
    ///     fn about(&self) -> String { self.about.clone() }
    /// }
    ///
    /// impl Controller for Pages {
    ///     fn routes(router: Router<Self>) -> Router<Self> {
    ///         router.get("/about", Self::about)
    ///     }
    /// }
    ///
    /// let router = Router::new().controller(Pages { about: "We sell bikes.".into() });
    /// # let _ = router;
    /// ```
    pub fn controller<C: Controller>(self, controller: C) -> Self {
        let routes = C::routes(self.child(controller));
        self.merge(routes)
    }
}
