//! HTTP Digest authentication (RFC 7616), server side, as PoorWSGI has it:
//! MD5 and SHA-256 (and their `-sess` variants), `qop=auth`, nonces that
//! expire (`stale=true`), users from a closure or an `htdigest` file.
//!
//! For Basic authentication, let Apache do it (`AuthType Basic`, `Require
//! valid-user`) and read [`Request::remote_user`].
//!
//! Nonces are HMAC-signed timestamps, so any process of the app that has the
//! same `secret_key` accepts them, and the server keeps no state. Without
//! state, a nonce can be replayed until it expires (the default lifetime is
//! 5 minutes): use HTTPS.

mod algorithm;
mod header;
mod htdigest;

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::{HeaderValue, StatusCode};
use sha2::Sha256;

use crate::auth::{MIN_SECRET_LEN, SECRET_KEY, derive_key};
use crate::{Config, HttpError, InitError, IntoResponse, Request, Response};
pub use algorithm::{Credentials, DigestAlgorithm};
use header::DigestCredentials;
pub use htdigest::HtDigest;

type HmacSha256 = Hmac<Sha256>;

/// HTTP Digest authentication for one realm.
///
/// [`authenticate`](DigestAuth::authenticate) checks a request's
/// `Authorization` header and gives the user's name, or the response to
/// send instead: a 401 challenge (with `stale=true` when only the nonce has
/// expired, so that the browser retries without asking the user again), or a
/// 400 when the header names another URI.
///
/// ```
/// use app_sdk::auth::digest::{Credentials, DigestAuth};
/// use app_sdk::{Config, IntoResponse, Request, Response};
///
/// fn secret_page(digest: &DigestAuth, req: Request) -> Response {
///     let user = match digest.authenticate(&req, |user, _algorithm| {
///         (user == "ann").then(|| Credentials::Password("secret".into()))
///     }) {
///         Ok(user) => user,
///         Err(rejection) => return rejection.into_response(),
///     };
///     format!("Hello, {user}").into_response()
/// }
///
/// let config = Config::from_iter([("secret_key", "0123456789abcdef0123456789abcdef")]);
/// let digest = DigestAuth::from_config(&config, "private area").unwrap();
/// let req = Request::new(Default::default(), config, Default::default());
/// let res = secret_page(&digest, req);
/// assert_eq!(res.status(), 401);
/// assert!(res.headers()["www-authenticate"].to_str().unwrap().starts_with("Digest realm=\"private area\""));
/// ```
#[derive(Clone)]
pub struct DigestAuth {
    realm: String,
    key: [u8; 32],
    opaque: String,
    algorithms: Vec<DigestAlgorithm>,
    nonce_lifetime: Duration,
}

/// How old a nonce may be, by default.
const DEFAULT_NONCE_LIFETIME: Duration = Duration::from_secs(300);
/// How far in the future a nonce's time may be (clock skew between
/// processes).
const CLOCK_SKEW: u64 = 60;
const NONCE_MAC_LEN: usize = 16;

impl DigestAuth {
    /// Digest authentication for `realm`, with nonces signed by a key
    /// derived from `secret` (at least [`MIN_SECRET_LEN`] bytes), offering
    /// SHA-256 and MD5.
    ///
    /// ```
    /// use app_sdk::auth::digest::DigestAuth;
    ///
    /// assert!(DigestAuth::new("admin", &[3; 32]).is_ok());
    /// assert!(DigestAuth::new("admin", b"short").is_err());
    /// assert!(DigestAuth::new("bad\"realm", &[3; 32]).is_err());
    /// ```
    pub fn new(realm: impl Into<String>, secret: &[u8]) -> Result<DigestAuth, DigestError> {
        let realm = realm.into();
        if secret.len() < MIN_SECRET_LEN {
            return Err(DigestError::ShortSecret { len: secret.len() });
        }
        if realm
            .bytes()
            .any(|b| b == b'"' || b == b'\\' || b.is_ascii_control())
        {
            return Err(DigestError::Realm(realm));
        }
        let key = derive_key(secret, b"mod_rustgi digest nonce key v1");
        let mut mac = new_mac(&key);
        mac.update(b"opaque\0");
        mac.update(realm.as_bytes());
        let opaque = URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..NONCE_MAC_LEN]);
        Ok(DigestAuth {
            realm,
            key,
            opaque,
            algorithms: vec![DigestAlgorithm::Sha256, DigestAlgorithm::Md5],
            nonce_lifetime: DEFAULT_NONCE_LIFETIME,
        })
    }

    /// Digest authentication for `realm` keyed by the configuration's
    /// `secret_key`, failing (so that the app does not start) when it is
    /// missing or too short. The key `digest_algorithms` may list the
    /// algorithms to offer (`SHA-256, MD5` by default) and
    /// `digest_nonce_lifetime` the nonces' lifetime in seconds (300).
    pub fn from_config(
        config: &Config,
        realm: impl Into<String>,
    ) -> Result<DigestAuth, DigestError> {
        let secret = config.get(SECRET_KEY).ok_or(DigestError::MissingSecret)?;
        let mut auth = DigestAuth::new(realm, secret.as_bytes())?;
        if let Some(list) = config.get("digest_algorithms") {
            let algorithms = list
                .split([',', ' '])
                .filter(|a| !a.trim().is_empty())
                .map(str::parse)
                .collect::<Result<Vec<DigestAlgorithm>, _>>()?;
            auth = auth.algorithms(&algorithms)?;
        }
        if let Some(v) = config.get("digest_nonce_lifetime") {
            let secs: u64 = v
                .trim()
                .parse()
                .map_err(|_| DigestError::Config(format!("digest_nonce_lifetime: {v:?}")))?;
            auth = auth.nonce_lifetime(Duration::from_secs(secs));
        }
        Ok(auth)
    }

    /// Sets the algorithms to offer, in order of preference (a browser takes
    /// the first it knows). Fails on an empty list.
    ///
    /// ```
    /// use app_sdk::auth::digest::{DigestAlgorithm, DigestAuth};
    ///
    /// let md5_only = DigestAuth::new("r", &[1; 32]).unwrap().algorithms(&[DigestAlgorithm::Md5]);
    /// assert!(md5_only.is_ok());
    /// ```
    pub fn algorithms(mut self, algorithms: &[DigestAlgorithm]) -> Result<DigestAuth, DigestError> {
        if algorithms.is_empty() {
            return Err(DigestError::Config("no Digest algorithm".into()));
        }
        self.algorithms = algorithms.to_vec();
        Ok(self)
    }

    /// Sets how long a nonce is good for (5 minutes by default).
    #[must_use]
    pub fn nonce_lifetime(mut self, lifetime: Duration) -> DigestAuth {
        self.nonce_lifetime = lifetime;
        self
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// A 401 Unauthorized response with one `WWW-Authenticate: Digest`
    /// challenge per algorithm, each with a fresh nonce; `stale` tells the
    /// client that its credentials were right but its nonce too old.
    ///
    /// ```
    /// use app_sdk::auth::digest::DigestAuth;
    ///
    /// let auth = DigestAuth::new("admin", &[7; 32]).unwrap();
    /// let res = auth.challenge(false);
    /// assert_eq!(res.status(), 401);
    /// assert_eq!(res.headers().get_all("www-authenticate").iter().count(), 2);
    /// ```
    pub fn challenge(&self, stale: bool) -> Response {
        self.challenge_at(stale, SystemTime::now()).into_response()
    }

    fn challenge_at(&self, stale: bool, now: SystemTime) -> DigestRejection {
        let nonce = self.nonce_at(now);
        let challenges = self
            .algorithms
            .iter()
            .filter_map(|algorithm| {
                let mut value = format!(
                    "Digest realm=\"{}\", qop=\"auth\", algorithm={algorithm}, nonce=\"{nonce}\", opaque=\"{}\"",
                    self.realm, self.opaque
                );
                if stale {
                    value.push_str(", stale=true");
                }
                HeaderValue::from_str(&value).ok()
            })
            .collect();
        DigestRejection {
            status: StatusCode::UNAUTHORIZED,
            challenges,
            stale,
        }
    }

    /// Checks the request's `Authorization: Digest` header, asking
    /// `lookup` for the secret of the user it names (with the algorithm the
    /// client chose): the user's name, or a [`DigestRejection`] to answer
    /// with (401 with a challenge, or 400 when the header's `uri` is not the
    /// request's).
    ///
    /// Apache only passes `Authorization` to the app with
    /// `RustgiPassAuthorization On`.
    pub fn authenticate<F>(&self, req: &Request, lookup: F) -> Result<String, DigestRejection>
    where
        F: FnOnce(&str, DigestAlgorithm) -> Option<Credentials>,
    {
        self.authenticate_at(req, lookup, SystemTime::now())
    }

    fn authenticate_at<F>(
        &self,
        req: &Request,
        lookup: F,
        now: SystemTime,
    ) -> Result<String, DigestRejection>
    where
        F: FnOnce(&str, DigestAlgorithm) -> Option<Credentials>,
    {
        let unauthorized = || Err(self.challenge_at(false, now));
        let Some(header) = req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return unauthorized();
        };
        let Some(auth) = DigestCredentials::parse(header) else {
            return unauthorized();
        };
        let Some(algorithm) = auth.algorithm().filter(|a| self.algorithms.contains(a)) else {
            return unauthorized();
        };
        if auth.realm != self.realm
            || auth.opaque.as_ref().is_some_and(|o| *o != self.opaque)
            || auth.userhash
        {
            return unauthorized();
        }
        if !uri_matches(req, &auth.uri) {
            return Err(DigestRejection {
                status: StatusCode::BAD_REQUEST,
                challenges: Vec::new(),
                stale: false,
            });
        }
        let nonce = self.check_nonce(&auth.nonce, now);
        if nonce == NonceState::Invalid {
            return unauthorized();
        }
        let Some(credentials) = lookup(&auth.username, algorithm) else {
            return unauthorized();
        };
        let expected = auth.expected_response(req.method().as_str(), algorithm, &credentials);
        if !constant_time_eq(
            expected.as_bytes(),
            auth.response.to_ascii_lowercase().as_bytes(),
        ) {
            return unauthorized();
        }
        if nonce == NonceState::Stale {
            return Err(self.challenge_at(true, now));
        }
        Ok(auth.username)
    }

    /// A nonce: the time, 8 random bytes, and an HMAC of both.
    fn nonce_at(&self, now: SystemTime) -> String {
        let secs = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let mut random = [0u8; 8];
        // Without randomness, nonces are still unforgeable, only alike.
        let _ = getrandom::fill(&mut random);
        let mut raw = secs.to_be_bytes().to_vec();
        raw.extend_from_slice(&random);
        let mac = self.nonce_mac(&raw);
        raw.extend_from_slice(&mac[..NONCE_MAC_LEN]);
        URL_SAFE_NO_PAD.encode(raw)
    }

    fn nonce_mac(&self, raw: &[u8]) -> Vec<u8> {
        let mut mac = new_mac(&self.key);
        mac.update(b"nonce\0");
        mac.update(self.realm.as_bytes());
        mac.update(b"\0");
        mac.update(raw);
        mac.finalize().into_bytes().to_vec()
    }

    fn check_nonce(&self, nonce: &str, now: SystemTime) -> NonceState {
        let Ok(raw) = URL_SAFE_NO_PAD.decode(nonce) else {
            return NonceState::Invalid;
        };
        if raw.len() != 16 + NONCE_MAC_LEN {
            return NonceState::Invalid;
        }
        let (signed, tag) = raw.split_at(16);
        let mut mac = new_mac(&self.key);
        mac.update(b"nonce\0");
        mac.update(self.realm.as_bytes());
        mac.update(b"\0");
        mac.update(signed);
        if mac.verify_truncated_left(tag).is_err() {
            return NonceState::Invalid;
        }
        let mut secs = [0; 8];
        secs.copy_from_slice(&signed[..8]);
        let issued = u64::from_be_bytes(secs);
        let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        if issued > now.saturating_add(CLOCK_SKEW) {
            NonceState::Invalid
        } else if now.saturating_sub(issued) > self.nonce_lifetime.as_secs() {
            NonceState::Stale
        } else {
            NonceState::Valid
        }
    }
}

impl fmt::Debug for DigestAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DigestAuth")
            .field("realm", &self.realm)
            .field("algorithms", &self.algorithms)
            .field("nonce_lifetime", &self.nonce_lifetime)
            .finish_non_exhaustive()
    }
}

fn new_mac(key: &[u8]) -> HmacSha256 {
    <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes keys of any length")
}

/// Why [`DigestAuth::authenticate`] refused a request, as the response to
/// send: 401 Unauthorized with fresh challenges, or 400 Bad Request when the
/// credentials name another URI.
///
/// ```
/// use app_sdk::Request;
/// use app_sdk::auth::digest::{Credentials, DigestAuth, DigestRejection};
///
/// fn handler(auth: &DigestAuth, req: Request) -> Result<String, DigestRejection> {
///     let user = auth.authenticate(&req, |_, _| None::<Credentials>)?;
///     Ok(format!("Hello, {user}"))
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigestRejection {
    status: StatusCode,
    challenges: Vec<HeaderValue>,
    stale: bool,
}

impl DigestRejection {
    /// 401 or 400.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Whether the credentials were right but the nonce had expired (the
    /// challenges say `stale=true`).
    pub fn is_stale(&self) -> bool {
        self.stale
    }
}

impl fmt::Display for DigestRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.status == StatusCode::BAD_REQUEST {
            f.write_str("the Digest uri is not the request's")
        } else if self.stale {
            f.write_str("the Digest nonce has expired")
        } else {
            f.write_str("Digest authentication required")
        }
    }
}

impl std::error::Error for DigestRejection {}

/// An [`HttpError`] with the status and every challenge (one
/// `WWW-Authenticate` header each, which custom status pages keep too).
impl From<DigestRejection> for HttpError {
    fn from(r: DigestRejection) -> HttpError {
        let mut err = HttpError::from(r.status);
        if r.status == StatusCode::BAD_REQUEST {
            err = err.with_message(r.to_string());
        }
        for challenge in &r.challenges {
            err = err.add_header(WWW_AUTHENTICATE, challenge.clone());
        }
        err
    }
}

/// The page of the [`HttpError`] it converts into, with every challenge.
impl IntoResponse for DigestRejection {
    fn into_response(self) -> Response {
        HttpError::from(self).into_response()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NonceState {
    Valid,
    Stale,
    Invalid,
}

/// Whether the Digest `uri` names the request's target.
fn uri_matches(req: &Request, uri: &str) -> bool {
    if let Some(raw) = req.environ().get("REQUEST_URI") {
        if raw == uri {
            return true;
        }
    }
    req.uri()
        .path_and_query()
        .is_some_and(|pq| pq.as_str() == uri)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Why Digest authentication cannot be set up; it converts into an
/// [`InitError`] so that the app does not start.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DigestError {
    /// There is no `secret_key` in the configuration.
    MissingSecret,
    /// The secret is shorter than [`MIN_SECRET_LEN`] bytes.
    ShortSecret {
        /// Its length in bytes.
        len: usize,
    },
    /// The realm holds `"`, `\` or control characters.
    Realm(String),
    /// Not an algorithm name.
    Algorithm(String),
    /// A setting does not parse.
    Config(String),
}

impl fmt::Display for DigestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DigestError::MissingSecret | DigestError::ShortSecret { .. } => write!(
                f,
                "Digest authentication needs a {SECRET_KEY} of at least {MIN_SECRET_LEN} bytes"
            ),
            DigestError::Realm(r) => {
                write!(f, "the realm {r:?} holds a quote, backslash or control")
            }
            DigestError::Algorithm(a) => write!(f, "{a:?} is not a Digest algorithm"),
            DigestError::Config(m) => write!(f, "invalid Digest setting {m}"),
        }
    }
}

impl std::error::Error for DigestError {}

impl From<DigestError> for InitError {
    fn from(e: DigestError) -> InitError {
        InitError::new(e.to_string())
    }
}

#[cfg(test)]
mod tests;
