//! `simple`: PoorWSGI's `examples/simple.py`, as a mod_rustgi app.
//!
//! simple.py is PoorWSGI's tour of its features; this is the same tour
//! with the [`app_sdk`] [`Router`]: typed path parameters and a custom
//! filter, forms, uploads, JSON, streamed bodies both ways, a file with
//! ranges and conditional GET, a login session, an error handler for an
//! error type of the app's own, a custom 404 page, before and after hooks,
//! and `/debug-info`.
//!
//! | route | answer |
//! |---|---|
//! | `GET /` | the index page |
//! | `GET /test/static` | a page with a strong `ETag`; 304 for `If-None-Match` |
//! | `GET /test/<variable:int>`, `:float`, `:uuid`, `:email`, `:word` | the value, typed (`i64`, `f64`, `String`); `email` is a custom filter, `uuid` takes any case |
//! | `GET /test/<v0>/<v1>/<v2>` | three values |
//! | `GET`, `POST /test/form` | the query arguments and the form fields |
//! | `GET /test/upload` | the upload form |
//! | `POST /test/upload` | `NAME: FILENAME (TYPE), SIZE bytes` for each file; 400 for a malformed body |
//! | `POST /test/json` | the JSON body, echoed; 400 when it is not JSON |
//! | `GET /yield` | ten lines, streamed |
//! | `POST /yield` | `received N bytes`, the body read as it arrives (chunked or not) |
//! | `GET /simple` | `simple.txt` of the static directory: ranges (206, 416), `ETag`, `Last-Modified`, 304s |
//! | `GET`, `POST /login` | the login form; the password `SecretPasswds` sets a session cookie |
//! | `GET /private` | 200 with the session, else a redirect to `/login` |
//! | `GET /logout` | removes the session cookie |
//! | `GET /none` | 204 No Content |
//! | `GET /internal-server-error` | 500 |
//! | `GET /bad-request` | 400, through the error handler of [`MyValueError`] |
//! | `GET /forbidden` | 403 |
//! | `GET /not-implemented` | 501 |
//! | anything else | 404, a custom page naming the path |
//! | `GET /debug-info` | with `debug` on: routes, hooks, configuration (secrets masked) |
//!
//! Methods a route does not take get 405 with `Allow`. The configuration
//! (`RustgiAppConfig KEY VALUE`):
//!
//! | key | meaning |
//! |---|---|
//! | `secret_key` | the key of the session cookies, at least 32 bytes (required) |
//! | `static_dir` | where `simple.txt` is; by default the `static/` directory of this crate |
//! | `debug` | `On`: error pages with details, and `/debug-info` |
//! | `session_*`, `form_max_*` | see [`SessionConfig`] and [`FormLimits`] |
//!
//! Build it with `cargo build --release -p simple`; deploy
//! `target/release/libsimple.so` and the `static/` directory beside it:
//!
//! ```apache
//! RustgiDaemonProcess simple threads=8 home=/srv/simple
//! RustgiProcessGroup simple
//! RustgiScriptAlias / /srv/simple/libsimple.so
//! RustgiAppConfig secret_key "a random string of at least 32 bytes"
//! RustgiAppConfig static_dir /srv/simple/static
//! <Directory /srv/simple>
//!     Require all granted
//! </Directory>
//! ```

#![deny(unsafe_code)]

pub mod bodies;
pub mod errors;
mod html;
pub mod login;
pub mod pages;

use std::path::{Path, PathBuf};

use app_sdk::auth::session::SessionConfig;
use app_sdk::extract::FormLimits;
use app_sdk::prelude::*;

pub use errors::MyValueError;

/// What PoorWSGI's `email` filter matches (`app.set_filter('email', ...)`).
pub const EMAIL: &str = r"[\w.\-]+@[\w.\-]+";

/// The static directory when `static_dir` is not set.
const DEFAULT_STATIC_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/static");

/// The app's state, read from the configuration once, when it starts.
#[derive(Debug)]
pub struct Simple {
    sessions: SessionConfig,
    form_limits: FormLimits,
    static_dir: PathBuf,
}

impl Simple {
    /// Reads `secret_key` (required), the session and form settings, and
    /// `static_dir`, which must be a directory.
    pub fn new(config: &Config) -> Result<Simple, InitError> {
        let sessions = SessionConfig::from_config(config)?;
        let form_limits = FormLimits::from_config(config)?;
        let static_dir = PathBuf::from(config.get("static_dir").unwrap_or(DEFAULT_STATIC_DIR));
        if !static_dir.is_dir() {
            return Err(InitError::new(format!(
                "static_dir: {} is not a directory (RustgiAppConfig static_dir DIR names the one holding simple.txt)",
                static_dir.display()
            )));
        }
        Ok(Simple {
            sessions,
            form_limits,
            static_dir,
        })
    }

    /// How session cookies are made and read.
    pub fn sessions(&self) -> &SessionConfig {
        &self.sessions
    }

    /// The limits of uploads.
    pub fn form_limits(&self) -> &FormLimits {
        &self.form_limits
    }

    /// Where `simple.txt` is.
    pub fn static_dir(&self) -> &Path {
        &self.static_dir
    }
}

/// The `email` filter's converter: the address with its domain in lower
/// case (`None` would refuse the value, and the route would not match).
fn email(address: &str) -> Option<String> {
    let (user, domain) = address.split_once('@')?;
    Some(format!("{user}@{}", domain.to_lowercase()))
}

/// Builds the app from its configuration (`RustgiAppConfig`): the routes,
/// their filter, hooks and handlers. The router keeps the configuration
/// for `debug` and `/debug-info`.
pub fn app(config: &Config) -> Result<Router<Simple>, InitError> {
    Ok(Router::with_state(Simple::new(config)?)
        .filter("email", EMAIL, email)
        .get("/", pages::index)
        .get("/test/static", pages::static_page)
        // Patterns are tried in this order: "42" is an int before a float.
        .get("/test/<variable:int>", pages::variable::<i64>)
        .get("/test/<variable:float>", pages::variable::<f64>)
        .get("/test/<variable:uuid>", pages::variable::<String>)
        .get("/test/<variable:email>", pages::variable::<String>)
        .get("/test/<variable:word>", pages::variable::<String>)
        .get("/test/<v0>/<v1>/<v2>", pages::three_variables)
        .get("/simple", pages::simple)
        .route("/test/form", MethodSet::GET | MethodSet::POST, bodies::form)
        .get("/test/upload", bodies::upload_form)
        .post("/test/upload", bodies::upload)
        .post("/test/json", bodies::json_echo)
        .get("/yield", bodies::yield_lines)
        .post("/yield", bodies::read_stream)
        .get("/login", login::login_form)
        .post("/login", login::login)
        .get("/private", login::private)
        .get("/logout", login::logout)
        .get("/none", || NoContent)
        .get("/internal-server-error", errors::internal_server_error)
        .get("/bad-request", errors::bad_request)
        .get("/forbidden", errors::forbidden)
        .get("/not-implemented", errors::not_implemented)
        .on_error(errors::value_error)
        .on_status(StatusCode::NOT_FOUND, errors::not_found)
        .before(log_request)
        .after(log_response))
}

/// Before every handler (simple.py's `log_request`).
fn log_request(req: &mut Request) -> Option<Response> {
    log::debug!(
        "{} {} (route {})",
        req.method(),
        req.path_info(),
        req.matched_route().unwrap_or("none")
    );
    None
}

/// After every response, error pages included (simple.py's
/// `log_response`).
fn log_response(head: &RequestHead, res: Response) -> Response {
    log::info!(
        "{} {} -> {}",
        head.method(),
        head.uri(),
        res.status().as_u16()
    );
    res
}

app_sdk::export_router!(app);

#[cfg(test)]
mod tests;
