//! `controllers`: a mod_rustgi app in the style of 15Watt_Wsgi.
//!
//! 15Watt apps are a `Kernel` that loads `config.py` and `routes.py` once per
//! process and dispatches to controller classes created once, with the
//! configuration. This app does the same with the SDK's
//! [`Controller`](app_sdk::router::Controller)s: [`ExampleController`] and
//! [`PagesController`] are created once per process by [`app`], from the
//! `RustgiAppConfig` values merged over the TOML file `controllers.toml`
//! (committed beside this crate) that `config_file` names.
//!
//! | route | answer |
//! |---|---|
//! | `GET /` | `Hello World` |
//! | `GET /with/params/<id:int>/<what>` | `Hello World, id = 42 what = "machWas"` for `/with/params/42/machWas`; 404 when `id` is not an int |
//! | `GET /conf` | the typed configuration values ExampleController read |
//! | `GET /hits` | how many requests this process's ExampleController served |
//! | `GET /pages/<name:word>` | the page `name` of the `[pages]` table of the config file |
//!
//! Every response carries `X-Framework`, as 15Watt's do, and paths no
//! controller takes get a plain-text 404 naming the method and path, as
//! 15Watt's "No controller method found for route".
//!
//! Build it with `cargo build --release -p controllers` and mount
//! `target/release/libcontrollers.so`:
//!
//! ```apache
//! RustgiDaemonProcess controllers threads=8 home=/srv/controllers
//! RustgiProcessGroup controllers
//! RustgiScriptAlias / /srv/controllers/libcontrollers.so
//! RustgiAppConfig config_file /srv/controllers/controllers.toml
//! <Directory /srv/controllers>
//!     Require all granted
//! </Directory>
//! ```

#![deny(unsafe_code)]

mod example;
mod pages;

use app_sdk::http::{HeaderValue, StatusCode};
use app_sdk::router::RequestHead;
use app_sdk::{Config, HttpError, InitError, Response, Router};

pub use example::ExampleController;
pub use pages::PagesController;

/// Builds the app's router from the configuration: the controllers, the
/// custom 404 page and the `X-Framework` header. The router keeps the
/// configuration for its `debug` flag and `/debug-info`.
pub fn app(config: &Config) -> Result<Router, InitError> {
    Ok(Router::new()
        .with_config(config.clone())
        .controller(ExampleController::new(config)?)
        .controller(PagesController::new(config))
        .on_status(StatusCode::NOT_FOUND, not_found)
        .after(framework_header))
}

/// The 404 page: which method and path no controller takes.
fn not_found(head: &RequestHead, err: &HttpError) -> String {
    match err.detail() {
        // A parameter the handler could not use.
        Some(_) if head.matched_route().is_some() => {
            format!("Not found: {}\n", head.path_info())
        }
        _ => format!(
            "No controller method found for route: {}_{}\n",
            head.method(),
            head.path_info()
        ),
    }
}

/// Adds `X-Framework` to every response.
fn framework_header(_head: &RequestHead, mut res: Response) -> Response {
    res.headers_mut().insert(
        "x-framework",
        HeaderValue::from_static("mod_rustgi app-sdk (controllers example)"),
    );
    res
}

app_sdk::export_router!(app);

#[cfg(test)]
mod tests {
    use super::*;
    use app_sdk::http::header::{ALLOW, CONTENT_TYPE};
    use app_sdk::{Environ, Request, RequestBody};

    /// The configuration the host would give: the committed config file,
    /// with `overrides` as RustgiAppConfig values.
    fn config(overrides: &[(&str, &str)]) -> Config {
        let file = concat!(env!("CARGO_MANIFEST_DIR"), "/controllers.toml");
        let mut directives = Config::from_iter([("config_file", file)]);
        for (name, value) in overrides {
            directives.push(*name, *value);
        }
        directives.with_file().unwrap()
    }

    fn router() -> Router {
        app(&config(&[])).unwrap()
    }

    fn get(router: &Router, method: &str, path: &str) -> (u16, String, Response) {
        let env = Environ::from_iter([
            ("REQUEST_METHOD", method),
            ("SCRIPT_NAME", "/shop"),
            ("PATH_INFO", path),
        ]);
        let mut res = router.handle(Request::new(env, Config::new(), RequestBody::empty()));
        let body = std::mem::take(res.body_mut()).into_vec().unwrap();
        (res.status().as_u16(), String::from_utf8(body).unwrap(), res)
    }

    #[test]
    fn with_params() {
        let router = router();
        let (status, body, res) = get(&router, "GET", "/with/params/42/machWas");
        assert_eq!(status, 200);
        assert_eq!(body, "Hello World, id = 42 what = \"machWas\"");
        assert_eq!(res.headers()[CONTENT_TYPE], "text/plain; charset=utf-8");
        assert!(res.headers().contains_key("x-framework"));

        let (status, body, _) = get(&router, "GET", "/with/params/x/machWas");
        assert_eq!(status, 404);
        assert_eq!(
            body,
            "No controller method found for route: GET_/with/params/x/machWas\n"
        );
        let (status, _, _) = get(&router, "GET", "/with/params/99999999999999999999/x");
        assert_eq!(status, 404);
        let (status, _, res) = get(&router, "POST", "/with/params/42/machWas");
        assert_eq!(status, 405);
        assert_eq!(res.headers()[ALLOW], "GET, HEAD, OPTIONS");
        assert!(res.headers().contains_key("x-framework"));
    }

    #[test]
    fn index_hits_and_config() {
        let router = router();
        assert_eq!(get(&router, "GET", "/").1, "Hello World");
        assert_eq!(get(&router, "HEAD", "").0, 200);
        assert_eq!(
            get(&router, "GET", "/conf").1,
            "key1 = Value1, confVar2 = 42"
        );
        let first: u64 = get(&router, "GET", "/hits").1.parse().unwrap();
        let second: u64 = get(&router, "GET", "/hits").1.parse().unwrap();
        assert_eq!(second, first + 1);
    }

    #[test]
    fn directives_override_the_file() {
        let router = app(&config(&[("greeting", "Servus"), ("confVar2", "7")])).unwrap();
        assert_eq!(
            get(&router, "GET", "/with/params/1/x").1,
            "Servus, id = 1 what = \"x\""
        );
        assert_eq!(
            get(&router, "GET", "/conf").1,
            "key1 = Value1, confVar2 = 7"
        );
        let err = app(&config(&[("confVar2", "many")])).unwrap_err();
        assert!(err.message().contains("confVar2"), "{err}");
    }

    #[test]
    fn pages() {
        let router = router();
        let (status, body, _) = get(&router, "GET", "/pages/about");
        assert_eq!(status, 200);
        assert!(body.starts_with("We write web apps"), "{body}");
        let (status, body, _) = get(&router, "GET", "/pages/missing");
        assert_eq!(status, 404);
        assert_eq!(body, "Not found: /pages/missing\n");
        assert_eq!(get(&router, "GET", "/pages/a-b").0, 404);
    }

    #[test]
    fn debug_info_only_in_debug_mode() {
        assert_eq!(get(&router(), "GET", "/debug-info").0, 404);
        let router = app(&config(&[("debug", "On")])).unwrap();
        let (status, body, _) = get(&router, "GET", "/debug-info");
        assert_eq!(status, 200);
        assert!(body.contains("ExampleController::with_params"), "{body}");
        assert!(body.contains("pages.about"), "{body}");
    }
}
