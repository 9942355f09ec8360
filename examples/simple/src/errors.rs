//! Errors: routes that fail on purpose, the error handler of the app's own
//! error type, and the custom 404 page.

use std::error::Error;
use std::fmt;

use app_sdk::prelude::*;

use crate::html::{escape, page};

/// simple.py's `MyValueError`: an error type of the app's own. Handlers
/// return it through [`AnyError`]; [`value_error`] answers it with a 400.
#[derive(Debug)]
pub struct MyValueError(pub String);

impl fmt::Display for MyValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "value error: {}", self.0)
    }
}

impl Error for MyValueError {}

/// `GET /bad-request`: fails with a [`MyValueError`].
pub fn bad_request() -> Result<&'static str, AnyError> {
    Err(MyValueError("ValueError exception test.".to_owned()).into())
}

/// The error handler for [`MyValueError`] (simple.py's
/// `value_error_handler`): a 400 whose page names the error.
pub fn value_error(head: &RequestHead, err: &MyValueError) -> HttpError {
    log::warn!("{} {}: {err}", head.method(), head.path_info());
    HttpError::bad_request(err.to_string())
}

/// `GET /internal-server-error`: fails with an error no handler takes, a
/// 500 (whose page, in debug mode, shows the error).
pub fn internal_server_error() -> Result<&'static str, AnyError> {
    Err(AnyError::msg("Test of internal server error"))
}

/// `GET /forbidden`.
pub fn forbidden() -> HttpError {
    HttpError::forbidden()
}

/// `GET /not-implemented`.
pub fn not_implemented() -> HttpError {
    HttpError::from(StatusCode::NOT_IMPLEMENTED)
}

/// The page for every 404 (simple.py's `not_found` state handler): it names
/// the path that was asked for (percent-decoded). The router gives it the
/// 404 status.
pub fn not_found(head: &RequestHead, _err: &HttpError) -> Html<String> {
    let path = format!("{}{}", head.script_name(), head.path_info());
    let body = format!(
        "<p>Your request <code>{}</code> was not found.</p>\n",
        escape(&path)
    );
    page(head.script_name(), "404 - Page Not Found", &body)
}
