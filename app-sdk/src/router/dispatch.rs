//! The request pipeline of a [`Router`]: resolution, before hooks, the
//! handler, error and status handlers, panics, after hooks.

use http::header::ALLOW;
use http::{HeaderMap, HeaderValue, Method, StatusCode};

use super::head::RequestHead;
use super::methods::MethodSet;
use super::params::RouteMatch;
use super::table::Resolution;
use super::{Endpoint, Named, Router, debug_info};
use crate::panics::{self, Report};
use crate::response::ResponseBody;
use crate::{HttpError, IntoResponse, Request, Response};

/// What the resolution left to do once the before hooks ran.
enum Target<'a, S> {
    /// `/debug-info` in debug mode (it takes precedence over routes).
    DebugInfo,
    Route(&'a Named<Endpoint<S>>),
    NotAllowed(MethodSet),
    NotFound,
}

/// The path routes match: `PATH_INFO`, or `/` when it is empty.
fn route_path(req: &Request) -> &str {
    match req.path_info() {
        "" => "/",
        p => p,
    }
}

impl<S: Send + Sync + 'static> Router<S> {
    /// Answers a request: what the exported app does for each request, and
    /// what tests call.
    ///
    /// ```
    /// use app_sdk::http::StatusCode;
    /// use app_sdk::{Config, Environ, Request, RequestBody, Router};
    ///
    /// let router = Router::new().get("/", || "home");
    /// // Mounted at /app: the request for /app has an empty PATH_INFO.
    /// let env = Environ::from_iter([
    ///     ("REQUEST_METHOD", "GET"),
    ///     ("SCRIPT_NAME", "/app"),
    ///     ("PATH_INFO", ""),
    /// ]);
    /// let res = router.handle(Request::new(env, Config::new(), RequestBody::empty()));
    /// assert_eq!(res.status(), StatusCode::OK);
    /// ```
    pub fn handle(&self, mut req: Request) -> Response {
        let debug = self.is_debug();
        let method = req.method().clone();
        let path = route_path(&req).to_owned();
        let debug_info =
            debug && path == "/debug-info" && (method == Method::GET || method == Method::HEAD);
        let target = match self.table.resolve(&method, &path) {
            _ if debug_info => Target::DebugInfo,
            Resolution::Found { route, params } => {
                req.extensions_mut().insert(RouteMatch {
                    pattern: route.source.clone(),
                    params,
                });
                Target::Route(&route.handler)
            }
            Resolution::MethodNotAllowed { allow } => Target::NotAllowed(allow),
            Resolution::NotFound => Target::NotFound,
        };
        let head = RequestHead::from_request(&req).with_debug(debug);
        let outcome = panics::catch(debug, || {
            for hook in &self.before {
                if let Some(res) = (hook.value)(&mut req) {
                    return res;
                }
            }
            match target {
                Target::DebugInfo => debug_info::page(self, &req),
                Target::Route(endpoint) => (endpoint.value)(&self.state, req),
                Target::NotAllowed(allow) if method == Method::OPTIONS => options(&allow),
                Target::NotAllowed(allow) => not_allowed(&allow).into_response(),
                Target::NotFound => match &self.default {
                    Some(endpoint) => (endpoint.value)(&self.state, req),
                    None => HttpError::not_found().into_response(),
                },
            }
        });
        let res = outcome.unwrap_or_else(|report| panic_page(&head, "the handler", report));
        self.finish(&head, res, debug)
    }

    /// Error pages, then after hooks.
    fn finish(&self, head: &RequestHead, res: Response, debug: bool) -> Response {
        let res = panics::catch(debug, || self.error_page(head, res, debug))
            .unwrap_or_else(|report| panic_page(head, "an error or status handler", report));
        let res = panics::catch(debug, || {
            self.after
                .iter()
                .fold(res, |res, hook| (hook.value)(head, res))
        });
        match res {
            Ok(res) => res,
            Err(report) => panic_page(head, "an after hook", report),
        }
    }

    /// Answers the error `res` carries, if any, with an error handler or a
    /// status handler, or in debug mode with the detailed page.
    fn error_page(&self, head: &RequestHead, res: Response, debug: bool) -> Response {
        let Some(err) = HttpError::of(&res).cloned() else {
            return res;
        };
        let causes = err
            .causes()
            .skip(1)
            .chain(std::iter::once(&err as &(dyn std::error::Error + 'static)));
        for cause in causes {
            for handler in &self.error_handlers {
                if let Some(page) = (handler.value)(head, cause) {
                    return keep_error(page, &err);
                }
            }
        }
        if let Some((_, handler)) = self
            .status_handlers
            .iter()
            .find(|(status, _)| *status == err.status())
        {
            return keep_error((handler.value)(head, &err), &err);
        }
        if debug && (err.detail().is_some() || err.causes().nth(1).is_some()) {
            let mut page = err.render(true);
            let (parts, _) = res.into_parts();
            add_missing_headers(page.headers_mut(), &parts.headers);
            return page;
        }
        res
    }
}

/// `page`, answering `err`: with the error's status if it is 200, its
/// headers where the page has none of that name, and the error in its
/// extensions.
fn keep_error(mut page: Response, err: &HttpError) -> Response {
    if page.status() == StatusCode::OK {
        *page.status_mut() = err.status();
    }
    add_missing_headers(page.headers_mut(), err.headers());
    if HttpError::of(&page).is_none() {
        page.extensions_mut().insert(err.clone());
    }
    page
}

/// Adds to `to` every value of each header of `from` that `to` has none of.
fn add_missing_headers(to: &mut HeaderMap, from: &HeaderMap) {
    for name in from.keys() {
        if !to.contains_key(name) {
            for value in from.get_all(name) {
                to.append(name, value.clone());
            }
        }
    }
}

fn allow_value(allow: &MethodSet) -> HeaderValue {
    HeaderValue::try_from(allow.to_string()).unwrap_or_else(|_| HeaderValue::from_static("OPTIONS"))
}

/// The answer to `OPTIONS` for a path whose routes do not take it.
fn options(allow: &MethodSet) -> Response {
    let mut res = Response::new(ResponseBody::empty());
    *res.status_mut() = StatusCode::NO_CONTENT;
    res.headers_mut().insert(ALLOW, allow_value(allow));
    res
}

/// 405 Method Not Allowed, with `Allow`.
fn not_allowed(allow: &MethodSet) -> HttpError {
    HttpError::from(StatusCode::METHOD_NOT_ALLOWED).with_header(ALLOW, allow_value(allow))
}

/// Logs a panic and makes the 500 page for it (details for debug mode).
fn panic_page(head: &RequestHead, what: &str, report: Report) -> Response {
    log::error!(
        "{} {}: {what} panicked: {}",
        head.method(),
        head.uri().path(),
        report.message
    );
    let detail = match report.backtrace {
        Some(bt) => format!("panic: {}\n\nbacktrace:\n{bt}", report.message),
        None => format!("panic: {}", report.message),
    };
    HttpError::internal()
        .with_detail(detail)
        .render(head.is_debug())
}
