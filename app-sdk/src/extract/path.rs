//! [`Path`]: the typed path parameters of the matched route.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use super::FromRequestParts;
use crate::router::PathParams;
use crate::router::params::parse_value;
use crate::{HttpError, Request};

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
/// use app_sdk::router::PathParams;
/// use app_sdk::{HttpError, Router};
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
    use crate::extract::tests::req;

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
}
