//! Write mod_rustgi apps in Rust (mod_rustgi's README tells how to serve them).
//!
//! mod_rustgi runs compiled web apps inside Apache httpd the way mod_wsgi
//! runs Python apps. An app is a shared library (a `cdylib` crate) that
//! exports the C ABI of `rustgi.h` (in the `rustgi-abi` crate), described in
//! `docs/abi.md`. This
//! crate provides that ABI ([`abi`]), the glue that turns it into safe Rust,
//! and a small framework in the style of axum. The crate's root holds the
//! core:
//!
//! * [`Request`]: method, URI, headers, the raw CGI variables ([`Environ`]),
//!   the per-request [`Config`] and a streaming [`RequestBody`];
//! * [`Response`] (an [`http::Response`] of a
//!   [`ResponseBody`](response::ResponseBody), which may be streamed through
//!   a [`BodyWriter`](response::BodyWriter)) and [`IntoResponse`];
//! * [`App`], for apps with state, set up from the configuration by
//!   [`App::init`];
//! * [`export_handler!`] and [`export_app!`], which export a handler function
//!   or an [`App`] from the library;
//! * [`Router`]: static, typed (`/items/<id:int>`) and regex routes with
//!   method sets, `HEAD`, `OPTIONS` and `405` handled,
//!   [`Controller`](router::Controller)s, handlers taking extractors such as
//!   [`Path`](extract::Path), [`HttpError`] and [`AnyError`], error and
//!   status handlers, before and after hooks, panic pages,
//!   [`Cors`](router::Cors) and `/debug-info`, exported with
//!   [`export_router!`];
//! * typed [`Config`] getters and an optional TOML config file
//!   ([`Config::with_file`]).
//!
//! The rest is in modules by topic:
//!
//! | module | what it holds |
//! |---|---|
//! | [`extract`] | handler arguments taken from the request: path parameters, query strings, forms and uploads, multipart bodies, JSON, cookies, the client's address, request ids |
//! | [`response`] | bodies and responses: HTML, bytes, redirects, files with ranges, JSON, conditional GET |
//! | [`router`] | the router's parts: method sets, path parameters, controllers, CORS |
//! | [`handler`] | what the router calls for a route |
//! | [`auth`] | cookie sessions and HTTP Digest authentication |
//! | [`html`] | HTML escaping |
//! | [`prelude`] | the names most apps use, for `use app_sdk::prelude::*` |
//!
//! A complete app (`Cargo.toml` needs `[lib] crate-type = ["cdylib"]`):
//!
//! ```rust,standalone_crate
//! use app_sdk::http::{Method, StatusCode};
//! use app_sdk::{IntoResponse, Request, Response};
//!
//! fn hello(req: Request) -> Response {
//!     match *req.method() {
//!         Method::GET | Method::HEAD => format!("Hello, {}!", req.path_info()).into_response(),
//!         _ => StatusCode::METHOD_NOT_ALLOWED.into_response(),
//!     }
//! }
//!
//! app_sdk::export_handler!(hello);
//! # fn main() {}
//! ```
//!
//! # Features
//!
//! All on by default; an app that needs none of them (such as a plain
//! handler) builds fewer dependencies with `default-features = false`:
//!
//! | feature | what it adds | dependencies |
//! |---|---|---|
//! | `sessions` | cookie sessions, signed with HMAC-SHA256 or encrypted with XChaCha20-Poly1305 | `chacha20poly1305`, `hmac`, `sha2`, `base64`, `getrandom` |
//! | `digest` | HTTP Digest authentication (MD5 and SHA-256), `htdigest` files | `md-5`, `hmac`, `sha2`, `base64`, `getrandom` |
//! | `multipart` | `multipart/form-data` bodies, read part by part or into a form with its uploaded files | none |
//!
//! Without `multipart`, a form body in `multipart/form-data` is refused
//! with 415 Unsupported Media Type like any other body that is not a form.
//!
//! # Logging
//!
//! The records of the [`log`](https://docs.rs/log) crate go to Apache's
//! error log (unless the app installed a logger of its own before its first
//! `init`): `error!` at `APLOG_ERR`, `warn!` at `APLOG_WARNING`, `info!` at
//! `APLOG_INFO`, `debug!` at `APLOG_DEBUG` and `trace!` at `APLOG_TRACE1`.
//! Apache's `LogLevel` decides which are kept. Records logged while a request
//! is handled are filed with that request and tagged with its
//! [`RequestId`](extract::RequestId) (`[req:ID] target: message`).
//!
//! # Panics
//!
//! A panic in a handler is caught: the client gets a 500 (or, if part of a
//! streamed body was already sent, a response cut short), and the panic's
//! message and location go to the error log. Apps must therefore be built
//! with `panic = "unwind"`, the default.
//!
//! # Threads
//!
//! Handlers run concurrently on the host's threads, so an [`App`] is
//! `Send + Sync`. A [`Request`] is bound to the thread that handles it.

#![deny(missing_docs)]
#![deny(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use http;

#[doc(hidden)]
#[path = "fuzz_hooks.rs"]
pub mod __fuzz;
#[doc(hidden)]
#[allow(unsafe_code)]
#[path = "glue.rs"]
pub mod __glue;
/// The C ABI's Rust mirror (the `rustgi-abi` crate, shared with the host).
pub use rustgi_abi as abi;

#[cfg(any(feature = "sessions", feature = "digest"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "sessions", feature = "digest"))))]
pub mod auth;
pub mod extract;
pub mod handler;
pub mod html;
pub mod response;
pub mod router;

mod app;
mod config;
mod config_file;
mod controller;
mod cors;
mod environ;
mod error;
mod logger;
mod pairs;
mod panics;
mod request;
mod request_id;
#[cfg(test)]
mod test_rng;

pub use app::{App, InitContext, InitError};
pub use config::{Config, ConfigError};
pub use environ::Environ;
pub use error::{AnyError, HttpError};
pub use request::{Request, RequestBody};
#[doc(inline)]
pub use response::{IntoResponse, Response};
#[doc(inline)]
pub use router::Router;

/// The items most apps use: `use app_sdk::prelude::*;`.
pub mod prelude {
    #[cfg(feature = "sessions")]
    pub use crate::auth::session::{Session, SessionConfig};
    pub use crate::extract::{
        Args, Cookie, Cookies, Form, FormLimits, Json, Path, Query, SameSite,
    };
    pub use crate::http::{self, HeaderMap, Method, StatusCode, header};
    pub use crate::response::{
        BodyWriter, Bytes, FileResponse, Html, NoContent, Redirect, ResponseBody, conditional,
    };
    pub use crate::router::{Controller, Cors, MethodSet, RequestHead};
    pub use crate::{
        AnyError, App, Config, ConfigError, HttpError, InitContext, InitError, IntoResponse,
        Request, RequestBody, Response, Router,
    };
}

/// Exports a type implementing [`App`] as the library's app.
///
/// It defines the two symbols a mod_rustgi app exports, `rustgi_abi_version`
/// and `rustgi_app_entry`, whose descriptor calls [`App::init`] once per app
/// instance, [`App::handle`] for each request and [`App::shutdown`] at the
/// end. The app is named after the crate (`CARGO_PKG_NAME`). Use it once per
/// library, in a `cdylib` crate.
///
/// ```rust,standalone_crate
/// use app_sdk::{App, InitContext, InitError, IntoResponse, Request, Response};
///
/// struct Greeter(String);
///
/// impl App for Greeter {
///     fn init(ctx: &InitContext) -> Result<Self, InitError> {
///         Ok(Greeter(ctx.config().get("greeting").unwrap_or("Hello").to_owned()))
///     }
///
///     fn handle(&self, _req: Request) -> Response {
///         self.0.clone().into_response()
///     }
/// }
///
/// app_sdk::export_app!(Greeter);
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! export_app {
    ($app:ty) => {
        const _: () = {
            /// The rustgi ABI version this app was built for.
            #[unsafe(no_mangle)]
            #[allow(non_upper_case_globals)]
            pub static rustgi_abi_version: u32 = $crate::abi::ABI_VERSION;

            static RUSTGI_APP_DESCRIPTOR: $crate::__glue::Descriptor =
                $crate::__glue::Descriptor::new::<$app>($crate::__glue::c_name(concat!(
                    env!("CARGO_PKG_NAME"),
                    "\0"
                )));

            /// Returns this app's descriptor.
            #[unsafe(no_mangle)]
            pub extern "C" fn rustgi_app_entry() -> *const $crate::abi::RustgiApp {
                RUSTGI_APP_DESCRIPTOR.as_ptr()
            }
        };
    };
}

/// Exports a handler function as the library's app, for apps without state.
///
/// The handler is anything callable as `fn(Request) -> impl IntoResponse`;
/// it is called for every request, from several threads at once. Like
/// [`export_app!`], use it once per library, in a `cdylib` crate.
///
/// ```rust,standalone_crate
/// use app_sdk::Request;
///
/// fn whoami(req: Request) -> String {
///     req.environ().get("REMOTE_USER").unwrap_or("nobody").to_owned()
/// }
///
/// app_sdk::export_handler!(whoami);
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! export_handler {
    ($handler:expr) => {
        const _: () = {
            struct RustgiHandler;

            impl $crate::App for RustgiHandler {
                fn init(
                    _: &$crate::InitContext,
                ) -> ::core::result::Result<Self, $crate::InitError> {
                    ::core::result::Result::Ok(RustgiHandler)
                }

                fn handle(&self, req: $crate::Request) -> $crate::Response {
                    $crate::IntoResponse::into_response(($handler)(req))
                }
            }

            $crate::export_app!(RustgiHandler);
        };
    };
}

/// Exports a [`Router`] as the library's app.
///
/// The argument is a build function called once per app instance, when the
/// app starts: `fn(&Config) -> Router<S>` or `fn(&Config) -> Result<Router<S>,
/// E>` with `E: Into<InitError>` (such as [`InitError`] or [`ConfigError`]).
/// It gets the `RustgiAppConfig` pairs merged over the TOML file their
/// `config_file` value names ([`Config::with_file`]); an error, or a panic
/// (an invalid route), makes the host refuse to serve the app and log why.
/// The router keeps that configuration for `/debug-info` and its `debug`
/// flag unless the build function gave it one. Like [`export_app!`], use it
/// once per library, in a `cdylib` crate.
///
/// ```rust,standalone_crate
/// use app_sdk::extract::Path;
/// use app_sdk::{Config, InitError, Router};
///
/// fn hello(Path(name): Path<String>) -> String {
///     format!("Hello, {name}!")
/// }
///
/// fn app(config: &Config) -> Result<Router, InitError> {
///     let greeting = config.get("greeting").unwrap_or("Hi").to_owned();
///     Ok(Router::new()
///         .get("/", move || greeting.clone())
///         .get("/hello/<name>", hello))
/// }
///
/// app_sdk::export_router!(app);
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! export_router {
    ($build:expr) => {
        const _: () = {
            struct RustgiRouter($crate::router::RouterApp);

            impl $crate::App for RustgiRouter {
                fn init(
                    ctx: &$crate::InitContext,
                ) -> ::core::result::Result<Self, $crate::InitError> {
                    $crate::router::init_router(ctx, $build).map(RustgiRouter)
                }

                fn handle(&self, req: $crate::Request) -> $crate::Response {
                    self.0.handle(req)
                }
            }

            $crate::export_app!(RustgiRouter);
        };
    };
}
