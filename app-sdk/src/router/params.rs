//! [`PathParams`]: the parameters a route matched, and how handlers read them.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use crate::pairs::Pairs;
use crate::{HttpError, Request};

/// The parameters of the route a request matched, in the order of the
/// pattern: `<name>` parameters by name, the groups of a regex route by name
/// (named groups) or by number (`"1"`, `"2"`... for the others).
///
/// Values are text, already converted by the parameter's filter (`<id:int>`
/// gives `"-7"` for `/-007`, `<u:uuid>` gives lower case). Read them typed
/// with [`Request::param`], [`PathParams::parse`] or the
/// [`Path`](crate::extract::Path) extractor.
///
/// ```
/// use app_sdk::router::PathParams;
///
/// let params = PathParams::from_iter([("id", "42"), ("what", "machWas")]);
/// assert_eq!(params.get("what"), Some("machWas"));
/// assert_eq!(params.parse::<i64>("id").unwrap(), 42);
/// assert_eq!(params.parse::<i64>("what").unwrap_err().status(), 404);
/// assert_eq!(params.parse::<i64>("nope").unwrap_err().status(), 500);
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct PathParams {
    pairs: Pairs,
}

impl PathParams {
    /// No parameters.
    ///
    /// ```
    /// assert!(app_sdk::router::PathParams::new().is_empty());
    /// ```
    pub fn new() -> PathParams {
        PathParams::default()
    }

    /// The value of the parameter `name`.
    ///
    /// ```
    /// let params = app_sdk::router::PathParams::from_iter([("id", "7")]);
    /// assert_eq!(params.get("id"), Some("7"));
    /// assert_eq!(params.get("name"), None);
    /// ```
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.get(name).map(String::as_str)
    }

    /// The parameter `name` parsed as a `T`.
    ///
    /// A value that does not parse gives a 404 Not Found error (the path
    /// names nothing that exists); a missing parameter, a bug in the app,
    /// gives a 500.
    ///
    /// ```
    /// let params = app_sdk::router::PathParams::from_iter([("ratio", "0.5")]);
    /// assert_eq!(params.parse::<f32>("ratio").unwrap(), 0.5);
    /// ```
    pub fn parse<T>(&self, name: &str) -> Result<T, HttpError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        let value = self.get(name).ok_or_else(|| {
            HttpError::internal().with_detail(format!("the route has no path parameter {name:?}"))
        })?;
        parse_value(name, value)
    }

    /// The parameters as `(name, value)`, in order.
    ///
    /// ```
    /// let params = app_sdk::router::PathParams::from_iter([("a", "1"), ("b", "2")]);
    /// assert_eq!(params.iter().collect::<Vec<_>>(), [("a", "1"), ("b", "2")]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.pairs.iter().map(|(n, v)| (n, v.as_str()))
    }

    /// The number of parameters.
    ///
    /// ```
    /// assert_eq!(app_sdk::router::PathParams::from_iter([("a", "1")]).len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether there are none.
    ///
    /// ```
    /// assert!(app_sdk::router::PathParams::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

/// Parses one parameter's value; a 404 when it does not parse.
pub(crate) fn parse_value<T>(name: &str, value: &str) -> Result<T, HttpError>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    value.parse().map_err(|e: T::Err| {
        HttpError::not_found().with_detail(format!(
            "the path parameter {name:?} = {value:?} does not parse as {}: {e}",
            std::any::type_name::<T>()
        ))
    })
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for PathParams {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> PathParams {
        PathParams {
            pairs: iter.into_iter().map(|(k, v)| (k, v.into())).collect(),
        }
    }
}

impl fmt::Debug for PathParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// The route a request matched, put in its extensions by the router.
#[derive(Clone, Debug)]
pub(crate) struct RouteMatch {
    pub(crate) pattern: Arc<str>,
    pub(crate) params: PathParams,
}

static NO_PARAMS: PathParams = PathParams {
    pairs: Pairs::new(),
};

impl Request {
    /// The path parameter `name` of the route the request matched, parsed
    /// as a `T` (see [`PathParams::parse`] for the errors).
    ///
    /// ```
    /// use app_sdk::{Config, Environ, HttpError, Request, RequestBody, Router};
    ///
    /// fn item(req: Request) -> Result<String, HttpError> {
    ///     let id: i64 = req.param("id")?;
    ///     Ok(format!("item {id}"))
    /// }
    ///
    /// let router = Router::new().get("/items/<id:int>", item);
    /// let env = Environ::from_iter([("REQUEST_METHOD", "GET"), ("PATH_INFO", "/items/42")]);
    /// let res = router.handle(Request::new(env, Config::new(), RequestBody::empty()));
    /// assert_eq!(res.into_body().into_vec().unwrap(), b"item 42");
    /// ```
    pub fn param<T>(&self, name: &str) -> Result<T, HttpError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        self.path_params().parse(name)
    }

    /// The path parameters of the route the request matched (none when no
    /// route matched).
    ///
    /// ```
    /// use app_sdk::{Config, Environ, Request, RequestBody, Router};
    ///
    /// let router = Router::new().get("/<a>/<b>", |req: Request| format!("{:?}", req.path_params()));
    /// let env = Environ::from_iter([("PATH_INFO", "/x/y")]);
    /// let res = router.handle(Request::new(env, Config::new(), RequestBody::empty()));
    /// assert_eq!(res.into_body().into_vec().unwrap(), br#"{"a": "x", "b": "y"}"#);
    /// ```
    pub fn path_params(&self) -> &PathParams {
        self.extensions()
            .get::<RouteMatch>()
            .map_or(&NO_PARAMS, |m| &m.params)
    }

    /// The pattern (or regex) of the route the request matched, as it was
    /// given to the router, e.g. `/items/<id:int>`.
    ///
    /// ```
    /// use app_sdk::{Config, Environ, Request, RequestBody, Router};
    ///
    /// let router = Router::new().get("/items/<id:int>", |req: Request| req.matched_route().unwrap().to_owned());
    /// let env = Environ::from_iter([("PATH_INFO", "/items/3")]);
    /// let res = router.handle(Request::new(env, Config::new(), RequestBody::empty()));
    /// assert_eq!(res.into_body().into_vec().unwrap(), b"/items/<id:int>");
    /// ```
    pub fn matched_route(&self) -> Option<&str> {
        self.extensions().get::<RouteMatch>().map(|m| &*m.pattern)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, Environ, RequestBody};

    #[test]
    fn requests_without_a_route() {
        let req = Request::new(Environ::new(), Config::new(), RequestBody::empty());
        assert!(req.path_params().is_empty());
        assert_eq!(req.matched_route(), None);
        assert_eq!(req.param::<i32>("x").unwrap_err().status(), 500);
    }

    #[test]
    fn requests_with_a_route() {
        let mut req = Request::new(Environ::new(), Config::new(), RequestBody::empty());
        req.extensions_mut().insert(RouteMatch {
            pattern: Arc::from("/<a>/<b:float>"),
            params: PathParams::from_iter([("a", "x"), ("b", "1.5")]),
        });
        assert_eq!(req.matched_route(), Some("/<a>/<b:float>"));
        assert_eq!(req.param::<f64>("b").unwrap(), 1.5);
        assert_eq!(req.param::<String>("a").unwrap(), "x");
        let err = req.param::<u8>("a").unwrap_err();
        assert_eq!(err.status(), 404);
        assert!(err.detail().unwrap().contains("u8"), "{err:?}");
        assert_eq!(req.path_params().len(), 2);
        assert_eq!(
            format!("{:?}", req.path_params()),
            r#"{"a": "x", "b": "1.5"}"#
        );
        assert_eq!(PathParams::new(), PathParams::default());
    }
}
