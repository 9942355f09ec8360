//! The app that [`export_router!`](crate::export_router) exports.

use crate::{Config, InitContext, InitError, Request, Response, Router};

/// What a build function given to [`export_router!`](crate::export_router)
/// may return: a [`Router`], or a `Result` of one.
pub trait IntoRouter<S> {
    /// The router, or why the app cannot start.
    fn into_router(self) -> Result<Router<S>, InitError>;
}

impl<S> IntoRouter<S> for Router<S> {
    fn into_router(self) -> Result<Router<S>, InitError> {
        Ok(self)
    }
}

impl<S, E: Into<InitError>> IntoRouter<S> for Result<Router<S>, E> {
    fn into_router(self) -> Result<Router<S>, InitError> {
        self.map_err(Into::into)
    }
}

/// A router with its state type erased; not a public API.
pub struct RouterApp {
    handle: Box<dyn Fn(Request) -> Response + Send + Sync>,
}

impl RouterApp {
    /// Answers a request.
    pub fn handle(&self, req: Request) -> Response {
        (self.handle)(req)
    }
}

/// Builds the router of [`export_router!`](crate::export_router): reads the
/// configuration (with its [config file](Config::with_file)), calls `build`
/// and gives the router the configuration unless `build` set one. Not a
/// public API.
pub fn init_router<S, F, R>(ctx: &InitContext, build: F) -> Result<RouterApp, InitError>
where
    S: Send + Sync + 'static,
    F: FnOnce(&Config) -> R,
    R: IntoRouter<S>,
{
    let config = ctx.config().with_file()?;
    let mut router = build(&config).into_router()?;
    if router.config.is_none() {
        router = router.with_config(config);
    }
    if router.is_debug() {
        log::warn!("debug mode is on: error pages show details and /debug-info is served");
    }
    Ok(RouterApp {
        handle: Box::new(move |req| router.handle(req)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Environ, RequestBody};

    #[test]
    fn builds_with_the_configuration() {
        let ctx = InitContext::new(Config::from_iter([("greeting", "hi"), ("debug", "on")]));
        let app = init_router(&ctx, |config: &Config| {
            let greeting = config.require("greeting")?.to_owned();
            Ok::<_, InitError>(Router::new().get("/", move || greeting.clone()))
        })
        .unwrap();
        let env = Environ::from_iter([("PATH_INFO", "/")]);
        let res = app.handle(Request::new(env, Config::new(), RequestBody::empty()));
        assert_eq!(res.into_body().into_vec().unwrap(), b"hi");
        // The configuration turned debug mode on.
        let env = Environ::from_iter([("PATH_INFO", "/debug-info")]);
        let res = app.handle(Request::new(env, Config::new(), RequestBody::empty()));
        assert_eq!(res.status(), 200);

        let err = init_router(&InitContext::default(), |config: &Config| {
            config.require("greeting")?;
            Ok::<_, InitError>(Router::new())
        })
        .err()
        .unwrap();
        assert!(err.message().contains("greeting"), "{err}");

        let app = init_router(&InitContext::default(), |_: &Config| Router::new()).unwrap();
        let env = Environ::from_iter([("PATH_INFO", "/")]);
        let res = app.handle(Request::new(env, Config::new(), RequestBody::empty()));
        assert_eq!(res.status(), 404);
    }
}
