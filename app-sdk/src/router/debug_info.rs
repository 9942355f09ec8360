//! The `/debug-info` page of a router in debug mode.

use std::fmt::Write as _;

use http::HeaderValue;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};

use super::Router;
use super::pattern::BUILTIN;
use crate::response::ResponseBody;
use crate::{Request, Response, html};

/// What replaces the value of a secret.
const MASK: &str = "********";

/// Whether a configuration key, header or environ variable holds a secret:
/// its name contains `secret`, `password`, `passwd`, `key`, `token`,
/// `authorization` or `cookie` (in any case).
pub(crate) fn is_secret(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    [
        "secret",
        "password",
        "passwd",
        "key",
        "token",
        "authorization",
        "cookie",
    ]
    .iter()
    .any(|word| name.contains(word))
}

fn masked<'a>(name: &str, value: &'a str) -> &'a str {
    if is_secret(name) { MASK } else { value }
}

/// The page: routes, filters, hooks and handlers, request headers,
/// configuration and environ.
pub(crate) fn page<S: Send + Sync + 'static>(router: &Router<S>, req: &Request) -> Response {
    let mut body = String::from("<h1>Debug info</h1>\n");
    let _ = writeln!(
        body,
        "<p>Mounted at <code>{}</code>; routes match the path under it. Request id <code>{}</code>.</p>",
        html::escape(if req.script_name().is_empty() {
            "/"
        } else {
            req.script_name()
        }),
        html::escape(req.request_id()),
    );

    body.push_str("<h2>Routes</h2>\n");
    let mut routes: Vec<[String; 4]> = router
        .table
        .routes()
        .iter()
        .map(|r| {
            [
                r.methods.to_string(),
                r.path.source().to_owned(),
                r.path.kind_name().to_owned(),
                r.handler.name.to_owned(),
            ]
        })
        .collect();
    if let Some(default) = &router.default {
        routes.push([
            "any".into(),
            "(no route)".into(),
            "default handler".into(),
            default.name.to_owned(),
        ]);
    }
    body.push_str(&html::table(
        &["Methods", "Route", "Kind", "Handler"],
        routes.iter().map(|r| r.iter().map(String::as_str)),
    ));

    body.push_str("<h2>Filters</h2>\n");
    let mut filters: Vec<[&str; 3]> = BUILTIN
        .iter()
        .map(|(name, regex, value)| [*name, *regex, *value])
        .collect();
    filters.push(["(none)", "[^/]+", "the text"]);
    filters.push(["re:REGEX", "REGEX", "the text"]);
    filters.extend(
        router
            .filters
            .custom()
            .map(|(name, regex)| [name, regex, "custom converter"]),
    );
    body.push_str(&html::table(&["Filter", "Regex", "Value"], filters));

    body.push_str("<h2>Hooks and handlers</h2>\n");
    let mut hooks: Vec<[String; 3]> = Vec::new();
    for h in &router.before {
        hooks.push(["before hook".into(), String::new(), h.name.into()]);
    }
    for h in &router.after {
        hooks.push(["after hook".into(), String::new(), h.name.into()]);
    }
    for h in &router.error_handlers {
        hooks.push(["error handler".into(), h.name.into(), String::new()]);
    }
    for (status, h) in &router.status_handlers {
        hooks.push(["status handler".into(), status.to_string(), h.name.into()]);
    }
    body.push_str(&html::table(
        &["Kind", "For", "Handler"],
        hooks.iter().map(|r| r.iter().map(String::as_str)),
    ));

    body.push_str("<h2>Request headers</h2>\n");
    let headers: Vec<[String; 2]> = req
        .headers()
        .iter()
        .map(|(n, v)| {
            let value = String::from_utf8_lossy(v.as_bytes());
            [n.as_str().to_owned(), masked(n.as_str(), &value).to_owned()]
        })
        .collect();
    body.push_str(&html::table(
        &["Name", "Value"],
        headers.iter().map(|r| r.iter().map(String::as_str)),
    ));

    body.push_str("<h2>Configuration</h2>\n<p>The app's (RustgiAppConfig and its config file; values of names holding secret, password, key or token are masked):</p>\n");
    body.push_str(&html::table(
        &["Name", "Value"],
        router.config().iter().map(|(n, v)| [n, masked(n, v)]),
    ));
    body.push_str("<p>For this request's URL:</p>\n");
    body.push_str(&html::table(
        &["Name", "Value"],
        req.config().iter().map(|(n, v)| [n, masked(n, v)]),
    ));

    body.push_str("<h2>Environ</h2>\n");
    let environ: Vec<[String; 2]> = req
        .environ()
        .iter()
        .map(|(n, v)| {
            let name = String::from_utf8_lossy(n).into_owned();
            let value = String::from_utf8_lossy(v);
            let value = masked(&name, &value).to_owned();
            [name, value]
        })
        .collect();
    body.push_str(&html::table(
        &["Name", "Value"],
        environ.iter().map(|r| r.iter().map(String::as_str)),
    ));

    let mut res = Response::new(ResponseBody::from(html::page("Debug info", &body)));
    res.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    res.headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_recognised() {
        for name in [
            "secret_key",
            "DB_PASSWORD",
            "api_key",
            "token",
            "HTTP_AUTHORIZATION",
            "cookie",
            "passwd",
        ] {
            assert!(is_secret(name), "{name}");
        }
        for name in ["debug", "greeting", "HTTP_HOST"] {
            assert!(!is_secret(name), "{name}");
        }
        assert_eq!(masked("api_key", "x"), MASK);
        assert_eq!(masked("host", "x"), "x");
    }
}
