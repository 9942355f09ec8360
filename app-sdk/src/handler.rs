//! [`Handler`]: what a [`Router`](crate::Router) calls for a route.

use crate::extract::{FromRequest, FromRequestParts};
use crate::{IntoResponse, Request, Response};

/// Something that answers a request for a [`Router<S>`](crate::Router):
/// implemented for plain functions and closures, so it is rarely written by
/// hand.
///
/// A handler is a `fn` or closure that is `Send + Sync + 'static`, returns
/// anything that implements [`IntoResponse`] (`Result<T, HttpError>` and
/// `Result<T, AnyError>` included), and takes:
///
/// * optionally first, `&S`: the router's state (for a
///   [controller](crate::router::Controller), the controller itself, so methods
///   taking `&self` are handlers);
/// * then any number (up to 7) of [`FromRequestParts`] extractors such as
///   [`Path`](crate::extract::Path), [`Method`](http::Method) or
///   [`HeaderMap`](http::HeaderMap);
/// * optionally last, a [`FromRequest`] extractor, such as the
///   [`Request`] itself.
///
/// `M` only tells the implementations apart; it is inferred. Closures need
/// their argument types written out (`|req: Request| ...`).
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use app_sdk::extract::Path;
/// use app_sdk::{HttpError, Request, Router};
///
/// struct Stats { hits: AtomicU64 }
///
/// fn index() -> &'static str { "home" }
/// fn echo(req: Request) -> String { req.path_info().to_owned() }
/// fn hits(stats: &Stats) -> String {
///     stats.hits.fetch_add(1, Ordering::Relaxed).to_string()
/// }
/// fn user(stats: &Stats, Path(id): Path<u32>) -> Result<String, HttpError> {
///     if id == 0 {
///         return Err(HttpError::not_found());
///     }
///     Ok(format!("user {id} (hits: {})", stats.hits.load(Ordering::Relaxed)))
/// }
///
/// let router = Router::with_state(Stats { hits: AtomicU64::new(0) })
///     .get("/", index)
///     .get("/echo/<rest:re:.*>", echo)
///     .get("/hits", hits)
///     .get("/users/<id:int>", user)
///     .get("/closure", |req: Request| format!("{}", req.method()));
/// # let _ = router;
/// ```
pub trait Handler<S, M>: Send + Sync + 'static {
    /// Answers `req`, with the router's state.
    fn call(&self, state: &S, req: Request) -> Response;
}

/// Marks handlers that do not take the state.
#[derive(Debug)]
pub enum WithoutState {}

/// Marks handlers that take the state first.
#[derive(Debug)]
pub enum WithState {}

/// Runs one extractor, returning its rejection as the response on failure.
macro_rules! extract {
    ($e:expr) => {
        match $e {
            Ok(value) => value,
            Err(rejection) => return rejection.into_response(),
        }
    };
}

impl<F, R, S> Handler<S, (WithoutState,)> for F
where
    F: Fn() -> R + Send + Sync + 'static,
    R: IntoResponse,
{
    fn call(&self, _state: &S, _req: Request) -> Response {
        self().into_response()
    }
}

impl<F, R, S> Handler<S, (WithState,)> for F
where
    F: Fn(&S) -> R + Send + Sync + 'static,
    R: IntoResponse,
{
    fn call(&self, state: &S, _req: Request) -> Response {
        self(state).into_response()
    }
}

macro_rules! handlers {
    ($($part:ident),*) => {
        impl<F, R, S, M, $($part,)* L> Handler<S, (WithoutState, M, $($part,)* L)> for F
        where
            F: Fn($($part,)* L) -> R + Send + Sync + 'static,
            R: IntoResponse,
            $($part: FromRequestParts,)*
            L: FromRequest<M>,
        {
            #[allow(non_snake_case, unused_mut)]
            fn call(&self, _state: &S, mut req: Request) -> Response {
                $(let $part = extract!(<$part as FromRequestParts>::from_request_parts(&mut req));)*
                let last = extract!(L::from_request(req));
                self($($part,)* last).into_response()
            }
        }

        impl<F, R, S, M, $($part,)* L> Handler<S, (WithState, M, $($part,)* L)> for F
        where
            F: Fn(&S, $($part,)* L) -> R + Send + Sync + 'static,
            R: IntoResponse,
            $($part: FromRequestParts,)*
            L: FromRequest<M>,
        {
            #[allow(non_snake_case, unused_mut)]
            fn call(&self, state: &S, mut req: Request) -> Response {
                $(let $part = extract!(<$part as FromRequestParts>::from_request_parts(&mut req));)*
                let last = extract!(L::from_request(req));
                self(state, $($part,)* last).into_response()
            }
        }
    };
}

handlers!();
handlers!(T1);
handlers!(T1, T2);
handlers!(T1, T2, T3);
handlers!(T1, T2, T3, T4);
handlers!(T1, T2, T3, T4, T5);
handlers!(T1, T2, T3, T4, T5, T6);
handlers!(T1, T2, T3, T4, T5, T6, T7);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::Path;
    use crate::router::params::RouteMatch;
    use crate::{Config, Environ, RequestBody};
    use http::{HeaderMap, Method, StatusCode};
    use std::sync::Arc;

    fn call<S, M, H: Handler<S, M>>(h: H, state: &S) -> (StatusCode, String) {
        let mut req = Request::new(
            Environ::from_iter([("REQUEST_METHOD", "POST"), ("PATH_INFO", "/p")]),
            Config::new(),
            RequestBody::from_bytes("body"),
        );
        req.extensions_mut().insert(RouteMatch {
            pattern: Arc::from("/<n>"),
            params: [("n", "5")].into_iter().collect(),
        });
        let res = h.call(state, req);
        let status = res.status();
        (
            status,
            String::from_utf8(res.into_body().into_vec().unwrap()).unwrap(),
        )
    }

    struct State(&'static str);

    fn zero() -> &'static str {
        "zero"
    }
    fn state_only(s: &State) -> String {
        s.0.to_owned()
    }
    fn request(mut req: Request) -> String {
        String::from_utf8(req.read_body_to_vec(10).unwrap()).unwrap()
    }
    fn parts(m: Method, Path(n): Path<u8>, _h: HeaderMap) -> String {
        format!("{m} {n}")
    }
    fn stateful(s: &State, Path(n): Path<u8>, req: Request) -> String {
        format!("{} {n} {}", s.0, req.path_info())
    }
    fn rejected(Path(n): Path<(u8, u8)>) -> String {
        format!("{n:?}")
    }
    #[allow(clippy::too_many_arguments)]
    fn seven(
        _: Method,
        _: Method,
        _: Method,
        _: Method,
        _: Method,
        _: Method,
        _: Method,
        req: Request,
    ) -> String {
        req.method().to_string()
    }

    #[test]
    fn every_shape_of_handler() {
        let s = State("st");
        assert_eq!(call(zero, &s), (StatusCode::OK, "zero".into()));
        assert_eq!(call(state_only, &s), (StatusCode::OK, "st".into()));
        assert_eq!(call(request, &s), (StatusCode::OK, "body".into()));
        assert_eq!(call(parts, &s), (StatusCode::OK, "POST 5".into()));
        assert_eq!(call(stateful, &s), (StatusCode::OK, "st 5 /p".into()));
        assert_eq!(call(rejected, &s).0, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(call(seven, &s), (StatusCode::OK, "POST".into()));
        assert_eq!(
            call(|req: Request| req.method().to_string(), &s),
            (StatusCode::OK, "POST".into())
        );
        assert_eq!(
            call(|s: &State, m: Method| format!("{}{m}", s.0), &s),
            (StatusCode::OK, "stPOST".into())
        );
    }
}
