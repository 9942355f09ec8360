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

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use http::HeaderMap;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use sha2::Sha256;

use crate::auth::{MIN_SECRET_LEN, SECRET_KEY, derive_key};
use crate::{Config, Cookie, CookieError, HttpError, InitError, Request, SameSite};

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
/// use app_sdk::http::HeaderMap;
/// use app_sdk::{Config, Environ, Request, RequestBody, SessionConfig};
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
    /// use app_sdk::SessionConfig;
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
    /// use app_sdk::{App, InitContext, InitError, Request, Response, SessionConfig};
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
    /// use app_sdk::{SameSite, SessionConfig};
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
    /// use app_sdk::{Session, SessionConfig};
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
    /// use app_sdk::http::HeaderMap;
    /// use app_sdk::SessionConfig;
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

/// The data of one session: a JSON object of named values.
///
/// ```
/// use app_sdk::Session;
///
/// let mut s = Session::new();
/// s.insert("cart", vec![3, 4]).unwrap();
/// assert_eq!(s.get::<Vec<u32>>("cart"), Some(vec![3, 4]));
/// assert_eq!(s.get::<String>("cart"), None); // not a string
/// assert!(s.is_changed());
/// s.remove("cart");
/// assert!(s.is_empty());
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Session {
    data: Map<String, Value>,
    changed: bool,
    secure_request: bool,
    expires: Option<SystemTime>,
}

impl Session {
    /// An empty session.
    pub fn new() -> Session {
        Session::default()
    }

    /// The value of `key` as a `T`; `None` when it is missing or is not a
    /// `T`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        self.data.get(key).and_then(|v| T::deserialize(v).ok())
    }

    /// The value of `key` as JSON.
    pub fn get_value(&self, key: &str) -> Option<&Value> {
        self.data.get(key)
    }

    /// Sets `key` to `value`; fails when `value` does not serialize to JSON.
    pub fn insert<T: Serialize>(
        &mut self,
        key: impl Into<String>,
        value: T,
    ) -> Result<(), SessionError> {
        let value = serde_json::to_value(value).map_err(SessionError::Serialize)?;
        self.data.insert(key.into(), value);
        self.changed = true;
        Ok(())
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let old = self.data.remove(key);
        self.changed |= old.is_some();
        old
    }

    /// Removes everything.
    pub fn clear(&mut self) {
        self.changed |= !self.data.is_empty();
        self.data.clear();
    }

    /// Whether `key` is set.
    pub fn contains(&self, key: &str) -> bool {
        self.data.contains_key(key)
    }

    /// The keys, in sorted order.
    pub fn keys(&self) -> impl Iterator<Item = &str> + '_ {
        self.data.keys().map(String::as_str)
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the session holds nothing.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Whether the data changed since the session was loaded (so that it
    /// needs saving).
    pub fn is_changed(&self) -> bool {
        self.changed
    }

    /// When the loaded cookie expires; `None` for a new session.
    pub fn expires(&self) -> Option<SystemTime> {
        self.expires
    }
}

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
mod tests {
    use super::*;
    use crate::{Environ, RequestBody};

    const SECRET: &[u8] = b"an example secret of 32+ bytes!!";

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn sample() -> Session {
        let mut s = Session::new();
        s.insert("user", "ann").unwrap();
        s.insert("roles", ["admin", "dev"]).unwrap();
        s.insert("n", 42).unwrap();
        s
    }

    #[test]
    fn round_trips() {
        for encrypted in [false, true] {
            let config = SessionConfig::new(SECRET).unwrap().encrypted(encrypted);
            let value = config.encode_at(&sample(), at(1_000)).unwrap();
            assert!(
                value.starts_with(if encrypted { "e1." } else { "s1." }),
                "{value}"
            );
            let back = config.decode_at(&value, at(1_001)).unwrap();
            assert_eq!(back.get::<String>("user").as_deref(), Some("ann"));
            assert_eq!(back.get::<Vec<String>>("roles").unwrap(), ["admin", "dev"]);
            assert_eq!(back.get::<u8>("n"), Some(42));
            assert!(!back.is_changed());
            assert_eq!(back.expires(), Some(at(1_000 + 86_400)));
            assert_eq!(back.keys().collect::<Vec<_>>(), ["n", "roles", "user"]);
            // Encrypted cookies hide the data; signed ones do not.
            let readable = URL_SAFE_NO_PAD
                .decode(value[3..].split('.').next().unwrap())
                .map(|b| String::from_utf8_lossy(&b).contains("ann"))
                .unwrap_or(false);
            assert_eq!(readable, !encrypted);
        }
    }

    #[test]
    fn nonces_are_random() {
        let config = SessionConfig::new(SECRET).unwrap().encrypted(true);
        let a = config.encode(&sample()).unwrap();
        let b = config.encode(&sample()).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn tampering_gives_an_empty_session() {
        for encrypted in [false, true] {
            let config = SessionConfig::new(SECRET).unwrap().encrypted(encrypted);
            let value = config.encode_at(&sample(), at(1_000)).unwrap();
            // Flip each character in turn.
            for i in 0..value.len() {
                let mut bytes = value.clone().into_bytes();
                bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
                let tampered = String::from_utf8(bytes).unwrap();
                if tampered == value {
                    continue;
                }
                let decoded = config.decode_at(&tampered, at(1_001));
                // Base64 padding bits can change without changing the
                // bytes; anything else must fail.
                if let Some(s) = decoded {
                    assert_eq!(s.data, sample().data, "{i}");
                }
            }
            // Truncated, extended, swapped.
            assert!(
                config
                    .decode_at(&value[..value.len() - 1], at(1_001))
                    .is_none()
            );
            assert!(config.decode_at(&format!("{value}x"), at(1_001)).is_none());
            assert!(config.decode_at("", at(1_001)).is_none());
            assert!(config.decode_at("s1.", at(1_001)).is_none());
            assert!(config.decode_at("e1.", at(1_001)).is_none());
            assert!(config.decode_at(&"a".repeat(5000), at(1_001)).is_none());
        }
        // Another key, another cookie name, or signed vs encrypted.
        let config = SessionConfig::new(SECRET).unwrap();
        let value = config.encode_at(&sample(), at(1_000)).unwrap();
        let other_key = SessionConfig::new(&[1; 32]).unwrap();
        assert!(other_key.decode_at(&value, at(1_001)).is_none());
        let other_name = config.clone().cookie_name("other");
        assert!(other_name.decode_at(&value, at(1_001)).is_none());
        let enc = config.clone().encrypted(true);
        let sealed = enc.encode_at(&sample(), at(1_000)).unwrap();
        assert!(
            enc.clone()
                .cookie_name("x")
                .decode_at(&sealed, at(1_001))
                .is_none()
        );
        // Decoding accepts both formats with the same key.
        assert!(config.decode_at(&sealed, at(1_001)).is_some());
        assert!(enc.decode_at(&value, at(1_001)).is_some());
    }

    #[test]
    fn expiry() {
        let config = SessionConfig::new(SECRET)
            .unwrap()
            .max_age(Duration::from_secs(60));
        let value = config.encode_at(&sample(), at(1_000)).unwrap();
        assert!(config.decode_at(&value, at(1_059)).is_some());
        assert!(config.decode_at(&value, at(1_060)).is_none());
        assert!(config.decode_at(&value, at(99_999)).is_none());
    }

    #[test]
    fn previous_secrets() {
        let old = SessionConfig::new(&[1; 32]).unwrap();
        let value = old.encode_at(&sample(), at(1_000)).unwrap();
        let new = SessionConfig::new(SECRET).unwrap();
        assert!(new.decode_at(&value, at(1_001)).is_none());
        let rotated = new.previous_secret(&[1; 32]).unwrap();
        assert!(rotated.decode_at(&value, at(1_001)).is_some());
        assert!(
            SessionConfig::new(SECRET)
                .unwrap()
                .previous_secret(b"x")
                .is_err()
        );
    }

    #[test]
    fn short_or_missing_secrets_are_refused() {
        let err = SessionConfig::new(&[0; 31]).unwrap_err();
        assert!(matches!(err, SessionError::ShortSecret { len: 31 }));
        assert_eq!(
            err.to_string(),
            "sessions need a secret_key of at least 32 bytes (it has 31): set it with \
             `RustgiAppConfig secret_key VALUE` in the app's virtual host, VALUE a random \
             string kept secret (`openssl rand -hex 32` makes one)"
        );
        let err = SessionConfig::from_config(&Config::new()).unwrap_err();
        assert!(matches!(err, SessionError::MissingSecret));
        let init: InitError = err.into();
        assert!(init.to_string().contains("secret_key"));
        let short = Config::from_iter([(SECRET_KEY, "x".repeat(31))]);
        assert!(SessionConfig::from_config(&short).is_err());
        let ok = Config::from_iter([(SECRET_KEY, "x".repeat(32))]);
        assert!(SessionConfig::from_config(&ok).is_ok());
    }

    #[test]
    fn settings_from_config() {
        let config = Config::from_iter([
            (SECRET_KEY, "k".repeat(40).as_str()),
            ("secret_key_previous", "p".repeat(32).as_str()),
            ("session_encrypted", "on"),
            ("session_cookie", "sid"),
            ("session_max_age", "3600"),
            ("session_path", "/app"),
            ("session_domain", "example.com"),
            ("session_secure", "on"),
            ("session_same_site", "none"),
            ("session_http_only", "off"),
        ]);
        let s = SessionConfig::from_config(&config).unwrap();
        assert_eq!(s.name(), "sid");
        let mut headers = HeaderMap::new();
        s.save(&sample(), &mut headers).unwrap();
        let cookie = headers["set-cookie"].to_str().unwrap();
        assert!(cookie.starts_with("sid=e1."), "{cookie}");
        assert!(
            cookie
                .ends_with("; Path=/app; Domain=example.com; Max-Age=3600; Secure; SameSite=None"),
            "{cookie}"
        );
        assert!(format!("{s:?}").contains("<secret>"));
        assert!(!format!("{s:?}").contains("kkkk"));

        let bad = |key: &str, value: &str| {
            let config = Config::from_iter([(SECRET_KEY, "k".repeat(32).as_str()), (key, value)]);
            SessionConfig::from_config(&config).unwrap_err().to_string()
        };
        assert!(bad("session_same_site", "sometimes").contains("SameSite"));
        assert!(bad("session_same_site", "None").contains("Secure"));
        assert!(bad("session_secure", "maybe").contains("session_secure"));
        assert!(bad("session_encrypted", "2").contains("session_encrypted"));
        assert!(bad("session_max_age", "-1").contains("session_max_age"));
        assert!(bad("session_cookie", "a b").contains("cookie"));
        assert!(bad("session_path", "rel").contains("path"));
        assert!(bad("session_domain", "a/b").contains("domain"));
        assert!(bad("secret_key_previous", "short").contains("32"));
    }

    #[test]
    fn cookie_attributes() {
        let s = SessionConfig::new(SECRET).unwrap();
        let save = |s: &SessionConfig, session: &Session| {
            let mut h = HeaderMap::new();
            s.save(session, &mut h).unwrap();
            h["set-cookie"].to_str().unwrap().to_owned()
        };
        let plain = save(&s, &sample());
        assert!(
            plain.ends_with("; Path=/; Max-Age=86400; HttpOnly; SameSite=Lax"),
            "{plain}"
        );
        // Secure follows the request's scheme unless set.
        let env = Environ::from_iter([("HTTPS", "on")]);
        let req = Request::new(env, Config::new(), RequestBody::empty());
        let loaded = s.load(&req);
        assert!(save(&s, &loaded).contains("; Secure;"));
        assert!(!save(&s.clone().secure(Some(false)), &loaded).contains("Secure"));
        assert!(save(&s.clone().secure(Some(true)), &sample()).contains("; Secure;"));
        let strict = save(
            &s.clone().same_site(SameSite::Strict).http_only(false),
            &sample(),
        );
        assert!(
            strict.ends_with("; Max-Age=86400; SameSite=Strict"),
            "{strict}"
        );
        // Too large for a cookie.
        let mut big = Session::new();
        big.insert("blob", "x".repeat(5000)).unwrap();
        let mut h = HeaderMap::new();
        assert!(matches!(
            s.save(&big, &mut h),
            Err(SessionError::TooLarge { .. })
        ));
        assert!(h.is_empty());
        // Removal.
        let mut h = HeaderMap::new();
        s.clone().domain("x.org").remove(&mut h).unwrap();
        assert!(
            h["set-cookie"]
                .to_str()
                .unwrap()
                .contains("Max-Age=0; Expires=Thu, 01 Jan 1970")
        );
    }

    #[test]
    fn loading_from_requests() {
        let s = SessionConfig::new(SECRET).unwrap();
        let good = s.encode(&sample()).unwrap();
        // The first valid cookie of the name wins; others are skipped.
        let header = format!("session=garbage; other=1; session={good}");
        let env = Environ::from_iter([("HTTP_COOKIE", header)]);
        let req = Request::new(env, Config::new(), RequestBody::empty());
        let session = s.load(&req);
        assert_eq!(session.get::<i32>("n"), Some(42));
        let req = Request::new(Environ::new(), Config::new(), RequestBody::empty());
        assert!(s.load(&req).is_empty());
    }

    #[test]
    fn session_data() {
        let mut s = Session::new();
        assert!(!s.is_changed());
        assert!(s.remove("x").is_none());
        s.clear();
        assert!(!s.is_changed());
        s.insert("a", 1).unwrap();
        assert!(s.contains("a"));
        assert_eq!(s.len(), 1);
        assert_eq!(s.get_value("a"), Some(&Value::from(1)));
        s.clear();
        assert!(s.is_empty() && s.is_changed());
        let mut map = std::collections::HashMap::new();
        map.insert(vec![1u8], 1);
        assert!(matches!(
            s.insert("bad", map),
            Err(SessionError::Serialize(_))
        ));
        assert!(s.expires().is_none());
    }

    #[test]
    fn random_inputs_never_panic() {
        let mut rng = crate::test_rng::Rng::new(0x5eed_0003);
        let alphabet = b"s1e.AZaz09-_{}\":,[]";
        for _ in 0..100_000 {
            let mut data = rng.bytes_from(alphabet, 40);
            if rng.below(3) == 0 {
                // A payload with a plausible expiry and JSON.
                let mut p = (2_000u64).to_be_bytes().to_vec();
                p.extend_from_slice(&data);
                data = p;
            }
            exercise_decoder(&data);
        }
    }
}
