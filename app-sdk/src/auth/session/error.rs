//! [`SessionError`]: why sessions cannot be set up or saved.

use std::fmt;

use super::MAX_COOKIE_VALUE;
use crate::auth::{MIN_SECRET_LEN, SECRET_KEY};
use crate::extract::CookieError;
use crate::{HttpError, InitError};

/// Why sessions cannot be set up, or a session cannot be saved.
///
/// It converts into an [`InitError`], so that `?` in
/// [`App::init`](crate::App::init) refuses to start the app.
#[derive(Debug)]
#[non_exhaustive]
pub enum SessionError {
    /// There is no `secret_key` in the configuration.
    MissingSecret,
    /// The secret is shorter than [`MIN_SECRET_LEN`] bytes.
    ShortSecret {
        /// Its length in bytes.
        len: usize,
    },
    /// A setting does not parse.
    Config(String),
    /// The cookie's attributes are not valid.
    Cookie(CookieError),
    /// A value does not serialize to JSON.
    Serialize(serde_json::Error),
    /// The session does not fit in a cookie.
    TooLarge {
        /// The cookie value's length in bytes.
        len: usize,
    },
    /// No random nonce could be had.
    Random(String),
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::MissingSecret | SessionError::ShortSecret { .. } => write!(
                f,
                "sessions need a {SECRET_KEY} of at least {MIN_SECRET_LEN} bytes"
            )?,
            SessionError::Config(m) => write!(f, "invalid session setting {m}")?,
            SessionError::Cookie(e) => write!(f, "invalid session cookie: {e}")?,
            SessionError::Serialize(e) => write!(f, "a session value does not serialize: {e}")?,
            SessionError::TooLarge { len } => write!(
                f,
                "the session cookie would be {len} bytes, over {MAX_COOKIE_VALUE}"
            )?,
            SessionError::Random(e) => write!(f, "no randomness for the session: {e}")?,
        }
        if let SessionError::ShortSecret { len } = self {
            write!(f, " (it has {len})")?;
        }
        if matches!(
            self,
            SessionError::MissingSecret | SessionError::ShortSecret { .. }
        ) {
            write!(
                f,
                ": set it with `RustgiAppConfig {SECRET_KEY} VALUE` in the app's virtual host, \
                 VALUE a random string kept secret (`openssl rand -hex 32` makes one)"
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for SessionError {}

impl From<CookieError> for SessionError {
    fn from(e: CookieError) -> SessionError {
        SessionError::Cookie(e)
    }
}

/// A 500 caused by the error (a session that cannot be saved is the app's
/// bug), which goes to the error log.
impl From<SessionError> for HttpError {
    fn from(e: SessionError) -> HttpError {
        log::error!("{e}");
        HttpError::internal().with_source(e)
    }
}

impl From<SessionError> for InitError {
    fn from(e: SessionError) -> InitError {
        InitError::new(e.to_string())
    }
}
