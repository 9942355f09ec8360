//! Cookie sessions: the session's data lives in a cookie, signed with
//! HMAC-SHA256 or encrypted with XChaCha20-Poly1305, with an expiry.
//!
//! A cookie that was tampered with, has expired, was made with another key,
//! or is garbage gives an empty session: [`SessionConfig::load`] never
//! fails. Decoding is pure code that never panics.
//!
//! Keys come from the configuration's `secret_key` (at least 32 bytes; an
//! app that uses sessions refuses to start without one). Two keys are
//! derived from it with HMAC-SHA256, one to sign and one to encrypt.
//!
//! Cookie formats (base64url without padding):
//!
//! * signed: `s1.` payload `.` tag, the payload being the expiry (8 bytes,
//!   big-endian Unix seconds) and the JSON object; the tag the HMAC-SHA256 of
//!   the cookie name and the payload. The data can be read by the client,
//!   not changed.
//! * encrypted: `e1.` nonce (24 random bytes) and the XChaCha20-Poly1305
//!   ciphertext of the same payload, with the cookie name as associated
//!   data. The client can neither read nor change the data.

mod data;
mod error;

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use http::HeaderMap;
use serde_json::{Map, Value};
use sha2::Sha256;

use crate::auth::{MIN_SECRET_LEN, SECRET_KEY, derive_key};
use crate::extract::{Cookie, CookieError, SameSite};
use crate::{Config, Request};
pub use data::Session;
pub use error::SessionError;

type HmacSha256 = Hmac<Sha256>;

/// The most bytes of a session cookie's value, as browsers keep.
const MAX_COOKIE_VALUE: usize = 4096;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 32;
const SIGNED_PREFIX: &str = "s1.";
const ENCRYPTED_PREFIX: &str = "e1.";

/// The keys derived from one secret.
#[derive(Clone)]
struct Keys {
    sign: [u8; 32],
    encrypt: [u8; 32],
}

impl Keys {
    fn derive(secret: &[u8]) -> Keys {
        Keys {
            sign: derive_key(secret, b"mod_rustgi session signing key v1"),
            encrypt: derive_key(secret, b"mod_rustgi session encryption key v1"),
        }
    }
}

/// Checks that a secret is long enough.
pub(crate) fn check_secret(secret: &[u8]) -> Result<(), SessionError> {
    if secret.len() < MIN_SECRET_LEN {
        return Err(SessionError::ShortSecret { len: secret.len() });
    }
    Ok(())
}

/// How sessions are kept: the keys, signed or encrypted, the lifetime and
/// the cookie's attributes.
///
/// | setting | default | configuration key |
/// |---|---|---|
/// | secret (≥ 32 bytes) | — (required) | `secret_key` |
/// | encrypted | no (signed) | `session_encrypted` (`on`/`off`) |
/// | cookie name | `session` | `session_cookie` |
/// | lifetime (`Max-Age`, and the expiry inside the cookie) | 1 day | `session_max_age` (seconds) |
/// | `Path` | `/` | `session_path` |
/// | `Domain` | none | `session_domain` |
/// | `Secure` | when the request came over HTTPS | `session_secure` (`on`/`off`/`auto`) |
/// | `SameSite` | `Lax` | `session_same_site` (`Strict`/`Lax`/`None`) |
/// | `HttpOnly` | yes | `session_http_only` (`on`/`off`) |
///
/// ```
/// use app_sdk::auth::session::SessionConfig;
/// use app_sdk::http::HeaderMap;
/// use app_sdk::{Config, Environ, Request, RequestBody};
///
/// let config = Config::from_iter([("secret_key", "0123456789abcdef0123456789abcdef")]);
/// let sessions = SessionConfig::from_config(&config).unwrap();
///
/// // A request without a cookie has an empty session.
/// let req = Request::new(Environ::new(), config.clone(), RequestBody::empty());
/// let mut session = sessions.load(&req);
/// assert!(session.is_empty());
/// session.insert("user", "ann").unwrap();
/// let mut headers = HeaderMap::new();
/// sessions.save(&session, &mut headers).unwrap();
///
/// // The browser sends the cookie back.
/// let set_cookie = headers["set-cookie"].to_str().unwrap();
/// let cookie = set_cookie.split(';').next().unwrap();
/// let env = Environ::from_iter([("HTTP_COOKIE", cookie)]);
/// let req = Request::new(env, config, RequestBody::empty());
/// assert_eq!(sessions.load(&req).get::<String>("user").as_deref(), Some("ann"));
///
/// // Too short a secret is refused: the app does not start.
/// let short = Config::from_iter([("secret_key", "hunter2")]);
/// assert!(SessionConfig::from_config(&short).is_err());
/// ```
#[derive(Clone)]
pub struct SessionConfig {
    keys: Keys,
    previous: Vec<Keys>,
    encrypted: bool,
    cookie_name: String,
    max_age: Duration,
    path: String,
    domain: Option<String>,
    secure: Option<bool>,
    same_site: SameSite,
    http_only: bool,
}

impl SessionConfig {
    /// Signed sessions with the defaults, keyed by `secret`, which must be
    /// at least [`MIN_SECRET_LEN`] bytes.
    ///
    /// ```
    /// use app_sdk::auth::session::SessionConfig;
    ///
    /// assert!(SessionConfig::new(&[7; 32]).is_ok());
    /// assert!(SessionConfig::new(b"short").is_err());
    /// ```
    pub fn new(secret: &[u8]) -> Result<SessionConfig, SessionError> {
        check_secret(secret)?;
        Ok(SessionConfig {
            keys: Keys::derive(secret),
            previous: Vec::new(),
            encrypted: false,
            cookie_name: "session".to_owned(),
            max_age: Duration::from_secs(24 * 60 * 60),
            path: "/".to_owned(),
            domain: None,
            secure: None,
            same_site: SameSite::Lax,
            http_only: true,
        })
    }

    /// Reads the configuration (see [`SessionConfig`] for the keys), failing
    /// when `secret_key` is missing or shorter than [`MIN_SECRET_LEN`] bytes,
    /// or when a setting is invalid (`SameSite=None` with `Secure` off
    /// included). Call it from [`App::init`](crate::App::init) so that an
    /// app that uses sessions refuses to start without a secret.
    ///
    /// ```
    /// use app_sdk::auth::session::SessionConfig;
    /// use app_sdk::{App, InitContext, InitError, Request, Response};
    ///
    /// struct MyApp {
    ///     sessions: SessionConfig,
    /// }
    ///
    /// impl App for MyApp {
    ///     fn init(ctx: &InitContext) -> Result<Self, InitError> {
    ///         Ok(MyApp { sessions: SessionConfig::from_config(ctx.config())? })
    ///     }
    ///     fn handle(&self, req: Request) -> Response {
    ///         # unimplemented!()
    ///     }
    /// }
    ///
    /// let err = MyApp::init(&InitContext::default()).err().unwrap();
    /// assert!(err.to_string().starts_with("sessions need a secret_key of at least 32 bytes"));
    /// assert!(err.to_string().contains("RustgiAppConfig secret_key"));
    /// ```
    pub fn from_config(config: &Config) -> Result<SessionConfig, SessionError> {
        let secret = config.get(SECRET_KEY).ok_or(SessionError::MissingSecret)?;
        let mut s = SessionConfig::new(secret.as_bytes())?;
        let invalid = |key: &str, value: &str| SessionError::Config(format!("{key}: {value:?}"));
        let switch = |key: &str| -> Result<Option<bool>, SessionError> {
            match config.get(key) {
                None => Ok(None),
                Some(v) => parse_switch(v).map(Some).ok_or_else(|| invalid(key, v)),
            }
        };
        if let Some(old) = config.get("secret_key_previous") {
            s = s.previous_secret(old.as_bytes())?;
        }
        if let Some(e) = switch("session_encrypted")? {
            s.encrypted = e;
        }
        if let Some(name) = config.get("session_cookie") {
            s.cookie_name = name.to_owned();
        }
        if let Some(v) = config.get("session_max_age") {
            let secs: u64 = v
                .trim()
                .parse()
                .map_err(|_| invalid("session_max_age", v))?;
            s.max_age = Duration::from_secs(secs);
        }
        if let Some(path) = config.get("session_path") {
            s.path = path.to_owned();
        }
        if let Some(domain) = config.get("session_domain") {
            s.domain = Some(domain.to_owned());
        }
        if let Some(v) = config.get("session_secure") {
            s.secure = if v.trim().eq_ignore_ascii_case("auto") {
                None
            } else {
                Some(parse_switch(v).ok_or_else(|| invalid("session_secure", v))?)
            };
        }
        if let Some(v) = config.get("session_same_site") {
            s.same_site = v.parse()?;
        }
        if let Some(h) = switch("session_http_only")? {
            s.http_only = h;
        }
        s.validate()?;
        Ok(s)
    }

    /// Also accepts cookies made with an older secret (they are saved again
    /// with the current one), so that the secret can be changed without
    /// logging everyone out. From the configuration: `secret_key_previous`.
    pub fn previous_secret(mut self, secret: &[u8]) -> Result<SessionConfig, SessionError> {
        check_secret(secret)?;
        self.previous.push(Keys::derive(secret));
        Ok(self)
    }

    /// Encrypts the cookies (XChaCha20-Poly1305) instead of only signing
    /// them.
    #[must_use]
    pub fn encrypted(mut self, encrypted: bool) -> SessionConfig {
        self.encrypted = encrypted;
        self
    }

    /// Sets the cookie's name.
    #[must_use]
    pub fn cookie_name(mut self, name: impl Into<String>) -> SessionConfig {
        self.cookie_name = name.into();
        self
    }

    /// Sets the session's lifetime: the cookie's `Max-Age`, and the expiry
    /// written inside it, counted from each [`save`](SessionConfig::save).
    #[must_use]
    pub fn max_age(mut self, max_age: Duration) -> SessionConfig {
        self.max_age = max_age;
        self
    }

    /// Sets the cookie's `Path`.
    #[must_use]
    pub fn path(mut self, path: impl Into<String>) -> SessionConfig {
        self.path = path.into();
        self
    }

    /// Sets the cookie's `Domain`.
    #[must_use]
    pub fn domain(mut self, domain: impl Into<String>) -> SessionConfig {
        self.domain = Some(domain.into());
        self
    }

    /// Sets `Secure` on or off; `None` (the default) sets it when the
    /// session was loaded from a request that came over HTTPS.
    #[must_use]
    pub fn secure(mut self, secure: Option<bool>) -> SessionConfig {
        self.secure = secure;
        self
    }

    /// Sets `SameSite` (`Lax` by default; `None` needs `Secure`).
    #[must_use]
    pub fn same_site(mut self, same_site: SameSite) -> SessionConfig {
        self.same_site = same_site;
        self
    }

    /// Sets `HttpOnly` (on by default).
    #[must_use]
    pub fn http_only(mut self, http_only: bool) -> SessionConfig {
        self.http_only = http_only;
        self
    }

    /// The cookie's name.
    pub fn name(&self) -> &str {
        &self.cookie_name
    }

    /// Checks the cookie settings: a valid name, path and domain, and
    /// `SameSite=None` only with `Secure` on.
    ///
    /// ```
    /// use app_sdk::auth::session::SessionConfig;
    /// use app_sdk::extract::SameSite;
    ///
    /// let s = SessionConfig::new(&[1; 32]).unwrap().same_site(SameSite::None);
    /// assert!(s.validate().is_err());
    /// assert!(s.secure(Some(true)).validate().is_ok());
    /// ```
    pub fn validate(&self) -> Result<(), SessionError> {
        if self.same_site == SameSite::None && self.secure != Some(true) {
            return Err(CookieError::SameSiteNoneWithoutSecure.into());
        }
        self.cookie("x".to_owned(), self.secure.unwrap_or(true), self.max_age)
            .validate()?;
        Ok(())
    }

    /// The session of `req`: the data of its cookie, or an empty session
    /// when it has none or it is not valid (tampered with, expired, made
    /// with another key, garbage).
    pub fn load(&self, req: &Request) -> Session {
        let mut session = req
            .cookies()
            .get_all(&self.cookie_name)
            .into_iter()
            .find_map(|value| self.decode(value))
            .unwrap_or_default();
        session.secure_request = req.is_secure();
        session
    }

    /// Decodes a cookie value: `None` when it is not a valid, unexpired
    /// session cookie of this configuration.
    ///
    /// ```
    /// use app_sdk::auth::session::{Session, SessionConfig};
    ///
    /// let sessions = SessionConfig::new(&[9; 32]).unwrap();
    /// let mut session = Session::new();
    /// session.insert("n", 1).unwrap();
    /// let value = sessions.encode(&session).unwrap();
    /// assert_eq!(sessions.decode(&value).unwrap().get::<i32>("n"), Some(1));
    /// assert!(sessions.decode("s1.garbage.x").is_none());
    /// ```
    pub fn decode(&self, value: &str) -> Option<Session> {
        self.decode_at(value, SystemTime::now())
    }

    fn decode_at(&self, value: &str, now: SystemTime) -> Option<Session> {
        if value.len() > MAX_COOKIE_VALUE {
            return None;
        }
        let payload = std::iter::once(&self.keys)
            .chain(&self.previous)
            .find_map(|keys| self.open(keys, value))?;
        let (expiry, json) = payload.split_first_chunk::<8>()?;
        let expires = UNIX_EPOCH.checked_add(Duration::from_secs(u64::from_be_bytes(*expiry)))?;
        if now >= expires {
            return None;
        }
        let data: Map<String, Value> = serde_json::from_slice(json).ok()?;
        Some(Session {
            data,
            changed: false,
            secure_request: false,
            expires: Some(expires),
        })
    }

    /// Checks and opens a cookie value made with `keys`: the payload.
    fn open(&self, keys: &Keys, value: &str) -> Option<Vec<u8>> {
        if let Some(rest) = value.strip_prefix(SIGNED_PREFIX) {
            let (payload, tag) = rest.split_once('.')?;
            let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
            let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
            if tag.len() != TAG_LEN {
                return None;
            }
            // A constant-time comparison.
            self.signer(keys, &payload).verify_slice(&tag).ok()?;
            Some(payload)
        } else if let Some(rest) = value.strip_prefix(ENCRYPTED_PREFIX) {
            let sealed = URL_SAFE_NO_PAD.decode(rest).ok()?;
            let (nonce, ciphertext) = sealed.split_at_checked(NONCE_LEN)?;
            let cipher = XChaCha20Poly1305::new((&keys.encrypt).into());
            cipher
                .decrypt(
                    XNonce::from_slice(nonce),
                    Payload {
                        msg: ciphertext,
                        aad: self.associated_data().as_bytes(),
                    },
                )
                .ok()
        } else {
            None
        }
    }

    fn signer(&self, keys: &Keys, payload: &[u8]) -> HmacSha256 {
        let mut mac =
            <HmacSha256 as Mac>::new_from_slice(&keys.sign).expect("HMAC takes keys of any length");
        mac.update(self.associated_data().as_bytes());
        mac.update(&[0]);
        mac.update(payload);
        mac
    }

    /// What binds a cookie to this configuration's cookie name.
    fn associated_data(&self) -> String {
        format!("mod_rustgi session\0{}", self.cookie_name)
    }

    /// Encodes a session as a cookie value expiring [`max_age`] from now.
    ///
    /// [`max_age`]: SessionConfig::max_age
    pub fn encode(&self, session: &Session) -> Result<String, SessionError> {
        self.encode_at(session, SystemTime::now())
    }

    fn encode_at(&self, session: &Session, now: SystemTime) -> Result<String, SessionError> {
        let expires = now
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .saturating_add(self.max_age)
            .as_secs();
        let mut payload = expires.to_be_bytes().to_vec();
        serde_json::to_writer(&mut payload, &session.data).map_err(SessionError::Serialize)?;
        let value = if self.encrypted {
            let mut nonce = [0; NONCE_LEN];
            getrandom::fill(&mut nonce).map_err(|e| SessionError::Random(e.to_string()))?;
            let cipher = XChaCha20Poly1305::new((&self.keys.encrypt).into());
            let ciphertext = cipher
                .encrypt(
                    XNonce::from_slice(&nonce),
                    Payload {
                        msg: &payload,
                        aad: self.associated_data().as_bytes(),
                    },
                )
                .map_err(|_| SessionError::Random("encryption failed".into()))?;
            let mut sealed = nonce.to_vec();
            sealed.extend_from_slice(&ciphertext);
            format!("{ENCRYPTED_PREFIX}{}", URL_SAFE_NO_PAD.encode(sealed))
        } else {
            let tag = self.signer(&self.keys, &payload).finalize().into_bytes();
            format!(
                "{SIGNED_PREFIX}{}.{}",
                URL_SAFE_NO_PAD.encode(&payload),
                URL_SAFE_NO_PAD.encode(tag)
            )
        };
        if value.len() > MAX_COOKIE_VALUE {
            return Err(SessionError::TooLarge { len: value.len() });
        }
        Ok(value)
    }

    /// Appends the `Set-Cookie` header that stores `session` to `headers`
    /// (a response's [`headers_mut`](http::Response::headers_mut)). Each
    /// save renews the expiry. Fails when the session is too large for a
    /// cookie (4096 bytes), or the cookie settings are not valid.
    pub fn save(&self, session: &Session, headers: &mut HeaderMap) -> Result<(), SessionError> {
        let value = self.encode(session)?;
        let secure = self.secure.unwrap_or(session.secure_request);
        self.cookie(value, secure, self.max_age)
            .append_to(headers)?;
        Ok(())
    }

    /// Appends a `Set-Cookie` header that deletes the session cookie (to
    /// log out).
    ///
    /// ```
    /// use app_sdk::auth::session::SessionConfig;
    /// use app_sdk::http::HeaderMap;
    ///
    /// let sessions = SessionConfig::new(&[1; 32]).unwrap();
    /// let mut headers = HeaderMap::new();
    /// sessions.remove(&mut headers).unwrap();
    /// assert!(headers["set-cookie"].to_str().unwrap().starts_with("session=; Path=/; Max-Age=0"));
    /// ```
    pub fn remove(&self, headers: &mut HeaderMap) -> Result<(), SessionError> {
        let mut cookie = Cookie::removal(&self.cookie_name)
            .path(&self.path)
            .http_only(self.http_only)
            .secure(self.secure == Some(true))
            .same_site(self.same_site);
        if let Some(domain) = &self.domain {
            cookie = cookie.domain(domain);
        }
        cookie.append_to(headers)?;
        Ok(())
    }

    fn cookie(&self, value: String, secure: bool, max_age: Duration) -> Cookie {
        let mut cookie = Cookie::new(&self.cookie_name, value)
            .path(&self.path)
            .max_age(max_age)
            .secure(secure)
            .http_only(self.http_only)
            .same_site(self.same_site);
        if let Some(domain) = &self.domain {
            cookie = cookie.domain(domain);
        }
        cookie
    }
}

impl fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionConfig")
            .field("keys", &"<secret>")
            .field("encrypted", &self.encrypted)
            .field("cookie_name", &self.cookie_name)
            .field("max_age", &self.max_age)
            .field("path", &self.path)
            .field("domain", &self.domain)
            .field("secure", &self.secure)
            .field("same_site", &self.same_site)
            .field("http_only", &self.http_only)
            .finish()
    }
}

fn parse_switch(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" | "1" => Some(true),
        "off" | "false" | "no" | "0" => Some(false),
        _ => None,
    }
}

/// Decodes `data` as a cookie value with fixed keys, signed and encrypted;
/// used by the fuzz target and the random-input test. Panics only if
/// something that decodes does not survive a round trip.
pub(crate) fn exercise_decoder(data: &[u8]) {
    use std::sync::LazyLock;
    static CONFIGS: LazyLock<[SessionConfig; 2]> = LazyLock::new(|| {
        let signed = SessionConfig::new(&[0x42; 32]).expect("a long secret");
        let encrypted = signed.clone().encrypted(true);
        [signed, encrypted]
    });
    let text = String::from_utf8_lossy(data);
    let now = UNIX_EPOCH + Duration::from_secs(1_000);
    for config in CONFIGS.iter() {
        // Raw input, and input made into a correctly signed cookie, so
        // that the JSON decoder and the expiry check see arbitrary data.
        let _ = config.decode_at(&text, now);
        let mut signed = config.clone().encrypted(false);
        signed.previous.clear();
        let payload = data.to_vec();
        let tag = signed
            .signer(&signed.keys, &payload)
            .finalize()
            .into_bytes();
        let forged = format!(
            "{SIGNED_PREFIX}{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(tag)
        );
        if let Some(session) = signed.decode_at(&forged, now) {
            let again = signed
                .encode_at(&session, now)
                .ok()
                .and_then(|v| signed.decode_at(&v, now));
            if forged.len() < 3000 {
                assert_eq!(again.map(|s| s.data), Some(session.data));
            }
        }
    }
}

#[cfg(test)]
mod tests;
