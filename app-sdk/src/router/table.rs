//! The route table: which route a method and a path resolve to.

use std::collections::HashMap;
use std::sync::Arc;

use http::Method;

use super::methods::MethodSet;
use super::params::PathParams;
use super::pattern::PathPattern;

/// One route: a path, its methods and what answers them.
pub(crate) struct Route<H> {
    pub(crate) path: PathPattern,
    /// The path as given, shared with every request that matches it.
    pub(crate) source: Arc<str>,
    pub(crate) methods: MethodSet,
    pub(crate) handler: H,
}

/// What a method and a path resolve to.
pub(crate) enum Resolution<'a, H> {
    /// A route takes the path and the method.
    Found {
        route: &'a Route<H>,
        params: PathParams,
    },
    /// Routes take the path, not the method; `allow` is what they take,
    /// with `HEAD` (when `GET` is there) and `OPTIONS`.
    MethodNotAllowed { allow: MethodSet },
    /// No route takes the path.
    NotFound,
}

/// The routes, in the order they were added: static paths are looked up
/// first, then patterns and regexes are tried in order.
pub(crate) struct Table<H> {
    routes: Vec<Route<H>>,
    statics: HashMap<String, Vec<usize>>,
    dynamic: Vec<usize>,
}

impl<H> Default for Table<H> {
    fn default() -> Table<H> {
        Table {
            routes: Vec::new(),
            statics: HashMap::new(),
            dynamic: Vec::new(),
        }
    }
}

impl<H> Table<H> {
    pub(crate) fn push(&mut self, path: PathPattern, methods: MethodSet, handler: H) {
        let index = self.routes.len();
        match path.static_path() {
            Some(p) => self.statics.entry(p.to_owned()).or_default().push(index),
            None => self.dynamic.push(index),
        }
        self.routes.push(Route {
            source: Arc::from(path.source()),
            path,
            methods,
            handler,
        });
    }

    /// Every route, in the order they were added.
    pub(crate) fn routes(&self) -> &[Route<H>] {
        &self.routes
    }

    /// The routes, converting their handlers.
    pub(crate) fn into_routes(self) -> impl Iterator<Item = Route<H>> {
        self.routes.into_iter()
    }

    /// Resolves `method` on `path`.
    ///
    /// The first route (static ones first) that takes the path and the
    /// method wins. `HEAD` goes to a route that lists `HEAD`, else to one
    /// that lists `GET`.
    pub(crate) fn resolve(&self, method: &Method, path: &str) -> Resolution<'_, H> {
        let statics = self.statics.get(path).map_or(&[][..], Vec::as_slice);
        let mut allow = MethodSet::EMPTY;
        let mut get_for_head = None;
        let mut matched = false;
        for &i in statics.iter().chain(&self.dynamic) {
            let route = &self.routes[i];
            let Some(params) = route.path.matches(path) else {
                continue;
            };
            matched = true;
            if route.methods.contains(method) {
                return Resolution::Found {
                    route,
                    params: params.into_iter().collect(),
                };
            }
            if *method == Method::HEAD
                && get_for_head.is_none()
                && route.methods.contains(&Method::GET)
            {
                get_for_head = Some((route, params));
            }
            allow |= route.methods.clone();
        }
        if let Some((route, params)) = get_for_head {
            return Resolution::Found {
                route,
                params: params.into_iter().collect(),
            };
        }
        if !matched {
            return Resolution::NotFound;
        }
        if allow.contains(&Method::GET) {
            allow.insert(Method::HEAD);
        }
        allow.insert(Method::OPTIONS);
        Resolution::MethodNotAllowed { allow }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::pattern::Filters;

    fn table(routes: &[(&str, MethodSet, &'static str)]) -> Table<&'static str> {
        let mut t = Table::default();
        for (p, m, h) in routes {
            let path = if let Some(re) = p.strip_prefix("re:") {
                PathPattern::regex(re).unwrap()
            } else {
                PathPattern::parse(p, &Filters::default()).unwrap()
            };
            t.push(path, m.clone(), *h);
        }
        t
    }

    fn found(t: &Table<&'static str>, m: Method, path: &str) -> Option<(&'static str, PathParams)> {
        match t.resolve(&m, path) {
            Resolution::Found { route, params } => Some((route.handler, params)),
            _ => None,
        }
    }

    fn allow(t: &Table<&'static str>, m: Method, path: &str) -> Option<String> {
        match t.resolve(&m, path) {
            Resolution::MethodNotAllowed { allow } => Some(allow.to_string()),
            _ => None,
        }
    }

    #[test]
    fn static_routes_win_over_patterns() {
        let t = table(&[
            ("/items/<id>", MethodSet::GET, "pattern"),
            ("/items/new", MethodSet::GET, "static"),
        ]);
        assert_eq!(found(&t, Method::GET, "/items/new").unwrap().0, "static");
        let (h, p) = found(&t, Method::GET, "/items/3").unwrap();
        assert_eq!((h, p.get("id")), ("pattern", Some("3")));
        assert!(matches!(
            t.resolve(&Method::GET, "/other"),
            Resolution::NotFound
        ));
        assert_eq!(t.routes().len(), 2);
    }

    #[test]
    fn methods_split_across_routes() {
        let t = table(&[
            ("/x", MethodSet::GET, "get"),
            ("/x", MethodSet::POST | MethodSet::PUT, "write"),
            ("/<a:int>", MethodSet::DELETE, "delete"),
            ("re:/r/(\\d+)", MethodSet::PATCH, "regex"),
        ]);
        assert_eq!(found(&t, Method::PUT, "/x").unwrap().0, "write");
        assert_eq!(
            allow(&t, Method::DELETE, "/x").unwrap(),
            "GET, HEAD, POST, PUT, OPTIONS"
        );
        assert_eq!(allow(&t, Method::GET, "/5").unwrap(), "DELETE, OPTIONS");
        assert_eq!(allow(&t, Method::GET, "/r/1").unwrap(), "OPTIONS, PATCH");
        assert_eq!(
            found(&t, Method::PATCH, "/r/1").unwrap().1.get("1"),
            Some("1")
        );
    }

    #[test]
    fn head_prefers_explicit_routes() {
        let t = table(&[
            ("/h", MethodSet::GET, "get"),
            ("/h", MethodSet::HEAD, "head"),
            ("/g", MethodSet::GET, "get-only"),
            ("/p", MethodSet::POST, "post"),
        ]);
        assert_eq!(found(&t, Method::HEAD, "/h").unwrap().0, "head");
        assert_eq!(found(&t, Method::HEAD, "/g").unwrap().0, "get-only");
        assert_eq!(allow(&t, Method::HEAD, "/p").unwrap(), "POST, OPTIONS");
    }

    #[test]
    fn into_routes_keeps_order() {
        let t = table(&[("/a", MethodSet::GET, "a"), ("/<b>", MethodSet::GET, "b")]);
        let names: Vec<_> = t.into_routes().map(|r| r.handler).collect();
        assert_eq!(names, ["a", "b"]);
    }
}
