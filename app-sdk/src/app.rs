//! The [`App`] trait, [`InitContext`] and [`InitError`].

use std::fmt;

use crate::{Config, Request, Response};

/// A web app with state, exported with [`export_app!`](crate::export_app).
///
/// The host creates one instance per place the app is mounted (each virtual
/// host gets its own, with its own configuration) by calling
/// [`init`](App::init), then calls [`handle`](App::handle) for every request,
/// from several threads at once, and [`shutdown`](App::shutdown) once, after
/// the last request, when the process stops. A panic in any of them is caught:
/// a request whose handler panics gets a 500 and the panic is logged.
///
/// ```rust,standalone_crate
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use app_sdk::{App, InitContext, InitError, IntoResponse, Request, Response};
///
/// struct Counter {
///     greeting: String,
///     hits: AtomicU64,
/// }
///
/// impl App for Counter {
///     fn init(ctx: &InitContext) -> Result<Self, InitError> {
///         let greeting = ctx.config().get("greeting").unwrap_or("Hello").to_owned();
///         if greeting.is_empty() {
///             return Err("greeting must not be empty".into());
///         }
///         Ok(Counter { greeting, hits: AtomicU64::new(0) })
///     }
///
///     fn handle(&self, _req: Request) -> Response {
///         let n = self.hits.fetch_add(1, Ordering::Relaxed) + 1;
///         format!("{} #{n}", self.greeting).into_response()
///     }
/// }
///
/// app_sdk::export_app!(Counter);
/// # fn main() {}
/// ```
pub trait App: Send + Sync + Sized + 'static {
    /// Creates the instance. An error makes the host refuse to serve the app
    /// and log the message.
    fn init(ctx: &InitContext) -> Result<Self, InitError>;

    /// Answers one request. Called concurrently from several threads.
    fn handle(&self, req: Request) -> Response;

    /// Called once when the process stops, after every `handle` call has
    /// returned; the instance is dropped right after. Does nothing by default.
    fn shutdown(&self) {}
}

/// What [`App::init`] gets from the host.
#[derive(Debug, Default)]
pub struct InitContext {
    config: Config,
}

impl InitContext {
    /// A context with the given configuration (the host's is made by the
    /// glue; this is for tests).
    pub fn new(config: Config) -> InitContext {
        InitContext { config }
    }

    /// The `RustgiAppConfig` pairs of the virtual host the app is mounted in.
    pub fn config(&self) -> &Config {
        &self.config
    }
}

/// Why [`App::init`] failed: a message for the error log.
///
/// ```
/// use app_sdk::InitError;
///
/// let err = InitError::from(format!("missing {}", "database_url"));
/// assert_eq!(err.to_string(), "missing database_url");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitError {
    message: String,
}

impl InitError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> InitError {
        InitError {
            message: message.into(),
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for InitError {}

impl From<String> for InitError {
    fn from(message: String) -> InitError {
        InitError { message }
    }
}

impl From<&str> for InitError {
    fn from(message: &str) -> InitError {
        InitError::new(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_error_and_context() {
        assert_eq!(InitError::from("x").message(), "x");
        assert_eq!(InitError::new(String::from("y")).to_string(), "y");
        let ctx = InitContext::new([("a", "b")].into_iter().collect());
        assert_eq!(ctx.config().get("a"), Some("b"));
        assert!(InitContext::default().config().is_empty());
    }
}
