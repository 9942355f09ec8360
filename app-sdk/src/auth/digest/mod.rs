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

use std::fmt;
use std::io;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::{HeaderValue, StatusCode};
use md5::Md5;
use sha2::{Digest as _, Sha256};

use crate::auth::{MIN_SECRET_LEN, SECRET_KEY, derive_key};
use crate::{Config, HttpError, InitError, IntoResponse, Request, Response};

type HmacSha256 = Hmac<Sha256>;

/// A Digest hash algorithm.
///
/// ```
/// use app_sdk::DigestAlgorithm;
///
/// assert_eq!("sha-256".parse::<DigestAlgorithm>().unwrap(), DigestAlgorithm::Sha256);
/// assert_eq!(DigestAlgorithm::Md5Sess.to_string(), "MD5-sess");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DigestAlgorithm {
    /// `MD5`, what `htdigest` files hold and every client speaks.
    Md5,
    /// `MD5-sess`.
    Md5Sess,
    /// `SHA-256`.
    Sha256,
    /// `SHA-256-sess`.
    Sha256Sess,
}

impl DigestAlgorithm {
    fn name(self) -> &'static str {
        match self {
            DigestAlgorithm::Md5 => "MD5",
            DigestAlgorithm::Md5Sess => "MD5-sess",
            DigestAlgorithm::Sha256 => "SHA-256",
            DigestAlgorithm::Sha256Sess => "SHA-256-sess",
        }
    }

    fn is_sess(self) -> bool {
        matches!(self, DigestAlgorithm::Md5Sess | DigestAlgorithm::Sha256Sess)
    }

    /// The same hash without `-sess`: the one an `HA1` is computed with.
    pub fn base(self) -> DigestAlgorithm {
        match self {
            DigestAlgorithm::Md5 | DigestAlgorithm::Md5Sess => DigestAlgorithm::Md5,
            DigestAlgorithm::Sha256 | DigestAlgorithm::Sha256Sess => DigestAlgorithm::Sha256,
        }
    }

    /// The lowercase hex hash of `data`.
    fn hash(self, data: &str) -> String {
        match self.base() {
            DigestAlgorithm::Md5 => hex(&Md5::digest(data.as_bytes())),
            _ => hex(&Sha256::digest(data.as_bytes())),
        }
    }

    /// `HA1` for a user's password: `H(user:realm:password)`, what an
    /// `htdigest` file stores (for MD5).
    ///
    /// ```
    /// use app_sdk::DigestAlgorithm;
    ///
    /// assert_eq!(
    ///     DigestAlgorithm::Md5.ha1("Mufasa", "testrealm@host.com", "Circle Of Life"),
    ///     "939e7578ed9e3c518a452acee763bce9"
    /// );
    /// ```
    pub fn ha1(self, user: &str, realm: &str, password: &str) -> String {
        self.hash(&format!("{user}:{realm}:{password}"))
    }
}

impl fmt::Display for DigestAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for DigestAlgorithm {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<DigestAlgorithm, DigestError> {
        [
            DigestAlgorithm::Md5,
            DigestAlgorithm::Md5Sess,
            DigestAlgorithm::Sha256,
            DigestAlgorithm::Sha256Sess,
        ]
        .into_iter()
        .find(|a| a.name().eq_ignore_ascii_case(s.trim()))
        .ok_or_else(|| DigestError::Algorithm(s.to_owned()))
    }
}

fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
    out
}

/// What the app knows of a user's secret.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// The password itself.
    Password(String),
    /// `HA1`, `H(user:realm:password)` in hex, computed with the
    /// [base](DigestAlgorithm::base) of the algorithm asked for (an
    /// `htdigest` file holds MD5 ones).
    Ha1(String),
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Credentials::Password(_) => "Credentials::Password(<secret>)",
            Credentials::Ha1(_) => "Credentials::Ha1(<secret>)",
        })
    }
}

/// HTTP Digest authentication for one realm.
///
/// [`authenticate`](DigestAuth::authenticate) checks a request's
/// `Authorization` header and gives the user's name, or the response to
/// send instead: a 401 challenge (with `stale=true` when only the nonce has
/// expired, so that the browser retries without asking the user again), or a
/// 400 when the header names another URI.
///
/// ```
/// use app_sdk::{Config, Credentials, DigestAuth, IntoResponse, Request, Response};
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
    /// use app_sdk::DigestAuth;
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
    /// use app_sdk::{DigestAlgorithm, DigestAuth};
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
    /// use app_sdk::DigestAuth;
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
/// use app_sdk::{Credentials, DigestAuth, DigestRejection, Request};
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

/// The fields of an `Authorization: Digest` header.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DigestCredentials {
    username: String,
    realm: String,
    nonce: String,
    uri: String,
    response: String,
    algorithm: Option<String>,
    cnonce: String,
    nc: String,
    opaque: Option<String>,
    userhash: bool,
}

impl DigestCredentials {
    /// Parses the header: `None` unless it is a Digest one with `qop=auth`
    /// and every field this needs, each at most once.
    fn parse(header: &str) -> Option<DigestCredentials> {
        let header = header.trim_start();
        let (scheme, rest) = header.split_once([' ', '\t'])?;
        if !scheme.eq_ignore_ascii_case("digest") {
            return None;
        }
        let params = parse_auth_params(rest)?;
        let get = |name: &str| {
            params
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        if get("qop")? != "auth" {
            return None;
        }
        let nc = get("nc")?;
        if nc.len() != 8 || !nc.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let cnonce = get("cnonce").filter(|c| !c.is_empty())?;
        Some(DigestCredentials {
            username: get("username")?,
            realm: get("realm")?,
            nonce: get("nonce")?,
            uri: get("uri")?,
            response: get("response")?,
            algorithm: get("algorithm"),
            cnonce,
            nc,
            opaque: get("opaque"),
            userhash: get("userhash").is_some_and(|u| u.eq_ignore_ascii_case("true")),
        })
    }

    fn algorithm(&self) -> Option<DigestAlgorithm> {
        match &self.algorithm {
            None => Some(DigestAlgorithm::Md5),
            Some(a) => a.parse().ok(),
        }
    }

    /// The `response` a client knowing `credentials` sends.
    fn expected_response(
        &self,
        method: &str,
        algorithm: DigestAlgorithm,
        credentials: &Credentials,
    ) -> String {
        let ha1 = match credentials {
            Credentials::Password(p) => algorithm.ha1(&self.username, &self.realm, p),
            Credentials::Ha1(h) => h.to_ascii_lowercase(),
        };
        let ha1 = if algorithm.is_sess() {
            algorithm.hash(&format!("{ha1}:{}:{}", self.nonce, self.cnonce))
        } else {
            ha1
        };
        let ha2 = algorithm.hash(&format!("{method}:{}", self.uri));
        algorithm.hash(&format!(
            "{ha1}:{}:{}:{}:auth:{ha2}",
            self.nonce, self.nc, self.cnonce
        ))
    }
}

/// Parses `name=value, name="quoted"` auth-params; `None` on a syntax error
/// or a repeated name.
fn parse_auth_params(input: &str) -> Option<Vec<(String, String)>> {
    let mut params: Vec<(String, String)> = Vec::new();
    let mut chars = input.chars().peekable();
    loop {
        while chars
            .next_if(|&c| c == ',' || c == ' ' || c == '\t')
            .is_some()
        {}
        if chars.peek().is_none() {
            return Some(params);
        }
        let mut name = String::new();
        while let Some(c) = chars.next_if(|&c| c != '=' && c != ',' && c != ' ' && c != '\t') {
            name.push(c);
        }
        while chars.next_if(|&c| c == ' ' || c == '\t').is_some() {}
        chars.next_if_eq(&'=')?;
        while chars.next_if(|&c| c == ' ' || c == '\t').is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => value.push(chars.next()?),
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|&c| c != ',' && c != ' ' && c != '\t') {
                value.push(c);
            }
        }
        if name.is_empty() || params.iter().any(|(n, _)| n.eq_ignore_ascii_case(&name)) {
            return None;
        }
        params.push((name, value));
        // After a value: only whitespace up to the next comma.
        while chars.next_if(|&c| c == ' ' || c == '\t').is_some() {}
        match chars.peek() {
            None | Some(',') => {}
            Some(_) => return None,
        }
    }
}

/// Users of an `htdigest` file (`user:realm:HA1`, MD5), as Apache's
/// `htdigest` tool writes it.
///
/// ```
/// use app_sdk::{Credentials, DigestAlgorithm, HtDigest};
///
/// let file = HtDigest::parse("ann:private:f7a2bb2bb6b1cbe6e5c8ee1b0e5a1c5c\n# comment\n");
/// assert!(file.credentials("private", "ann", DigestAlgorithm::Md5).is_some());
/// // An htdigest file has no SHA-256 secrets.
/// assert!(file.credentials("private", "ann", DigestAlgorithm::Sha256).is_none());
/// assert!(file.credentials("other", "ann", DigestAlgorithm::Md5).is_none());
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct HtDigest {
    entries: Vec<(String, String, String)>,
}

impl HtDigest {
    /// Parses the text of an `htdigest` file, skipping blank lines, `#`
    /// comments and lines that are not `user:realm:HA1`.
    pub fn parse(text: &str) -> HtDigest {
        let entries = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|line| {
                let (user, rest) = line.split_once(':')?;
                let (realm, ha1) = rest.rsplit_once(':')?;
                (ha1.len() == 32 && ha1.bytes().all(|b| b.is_ascii_hexdigit()))
                    .then(|| (user.to_owned(), realm.to_owned(), ha1.to_ascii_lowercase()))
            })
            .collect();
        HtDigest { entries }
    }

    /// Reads and parses an `htdigest` file.
    ///
    /// ```no_run
    /// let users = app_sdk::HtDigest::open("/etc/apache2/.htdigest")?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> io::Result<HtDigest> {
        Ok(HtDigest::parse(&std::fs::read_to_string(path)?))
    }

    /// The credentials of `user` in `realm` for `algorithm`: only the MD5
    /// ones exist.
    pub fn credentials(
        &self,
        realm: &str,
        user: &str,
        algorithm: DigestAlgorithm,
    ) -> Option<Credentials> {
        if algorithm.base() != DigestAlgorithm::Md5 {
            return None;
        }
        self.entries
            .iter()
            .find(|(u, r, _)| u == user && r == realm)
            .map(|(_, _, ha1)| Credentials::Ha1(ha1.clone()))
    }

    /// The number of users.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no users.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl fmt::Debug for HtDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HtDigest")
            .field("users", &self.entries.len())
            .finish_non_exhaustive()
    }
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

/// Parses `data` as an `Authorization` header; for the random-input test.
#[cfg(test)]
fn exercise_parser(data: &str) {
    if let Some(c) = DigestCredentials::parse(data) {
        assert_eq!(c.nc.len(), 8);
        let _ = c.expected_response(
            "GET",
            DigestAlgorithm::Md5Sess,
            &Credentials::Password("p".into()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Environ, RequestBody};

    // RFC 7616 section 3.9.1.
    const RFC_REALM: &str = "http-auth@example.org";
    const RFC_NONCE: &str = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
    const RFC_CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

    fn rfc_header(algorithm: &str, response: &str) -> String {
        format!(
            "Digest username=\"Mufasa\", realm=\"{RFC_REALM}\", uri=\"/dir/index.html\", \
             algorithm={algorithm}, nonce=\"{RFC_NONCE}\", nc=00000001, cnonce=\"{RFC_CNONCE}\", \
             qop=auth, response=\"{response}\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""
        )
    }

    #[test]
    fn rfc_7616_vectors() {
        let password = Credentials::Password("Circle of Life".into());
        let md5 = DigestCredentials::parse(&rfc_header("MD5", "x")).unwrap();
        assert_eq!(
            md5.expected_response("GET", DigestAlgorithm::Md5, &password),
            "8ca523f5e9506fed4657c9700eebdbec"
        );
        let sha = DigestCredentials::parse(&rfc_header("SHA-256", "x")).unwrap();
        assert_eq!(sha.algorithm(), Some(DigestAlgorithm::Sha256));
        assert_eq!(
            sha.expected_response("GET", DigestAlgorithm::Sha256, &password),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
        // The same through HA1.
        let ha1 = Credentials::Ha1(
            DigestAlgorithm::Md5
                .ha1("Mufasa", RFC_REALM, "Circle of Life")
                .to_uppercase(),
        );
        assert_eq!(
            md5.expected_response("GET", DigestAlgorithm::Md5, &ha1),
            "8ca523f5e9506fed4657c9700eebdbec"
        );
    }

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    /// What a client computes for a challenge.
    fn client_header(
        auth: &DigestAuth,
        nonce: &str,
        algorithm: DigestAlgorithm,
        user: &str,
        password: &str,
        uri: &str,
    ) -> String {
        let cnonce = "0a4f113b";
        let nc = "00000001";
        let creds = DigestCredentials {
            username: user.into(),
            realm: auth.realm.clone(),
            nonce: nonce.into(),
            uri: uri.into(),
            response: String::new(),
            algorithm: Some(algorithm.to_string()),
            cnonce: cnonce.into(),
            nc: nc.into(),
            opaque: Some(auth.opaque.clone()),
            userhash: false,
        };
        let response =
            creds.expected_response("GET", algorithm, &Credentials::Password(password.into()));
        format!(
            "Digest username=\"{user}\", realm=\"{}\", nonce=\"{nonce}\", uri=\"{uri}\", \
             algorithm={algorithm}, response=\"{response}\", qop=auth, nc={nc}, cnonce=\"{cnonce}\", \
             opaque=\"{}\"",
            auth.realm, auth.opaque
        )
    }

    fn request(header: Option<&str>) -> Request {
        let mut env =
            Environ::from_iter([("REQUEST_METHOD", "GET"), ("REQUEST_URI", "/private/x?y=1")]);
        if let Some(h) = header {
            env.push("HTTP_AUTHORIZATION", h);
        }
        Request::new(env, Config::new(), RequestBody::empty())
    }

    fn nonce_of(res: &Response) -> String {
        let h = res.headers()[WWW_AUTHENTICATE].to_str().unwrap();
        let start = h.find("nonce=\"").unwrap() + 7;
        h[start..start + h[start..].find('"').unwrap()].to_owned()
    }

    fn lookup(user: &str, _: DigestAlgorithm) -> Option<Credentials> {
        (user == "ann").then(|| Credentials::Password("pw".into()))
    }

    #[test]
    fn challenge_and_response() {
        let auth = DigestAuth::new("private", &[5; 32]).unwrap();
        let res = auth
            .authenticate_at(&request(None), lookup, now())
            .unwrap_err()
            .into_response();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let challenges: Vec<_> = res.headers().get_all(WWW_AUTHENTICATE).iter().collect();
        assert_eq!(challenges.len(), 2);
        let first = challenges[0].to_str().unwrap();
        assert!(
            first
                .starts_with("Digest realm=\"private\", qop=\"auth\", algorithm=SHA-256, nonce=\""),
            "{first}"
        );
        assert!(challenges[1].to_str().unwrap().contains("algorithm=MD5,"));
        assert!(!first.contains("stale"));
        let nonce = nonce_of(&res);

        for algorithm in [
            DigestAlgorithm::Md5,
            DigestAlgorithm::Md5Sess,
            DigestAlgorithm::Sha256,
            DigestAlgorithm::Sha256Sess,
        ] {
            let auth = auth.clone().algorithms(&[algorithm]).unwrap();
            let header = client_header(&auth, &nonce, algorithm, "ann", "pw", "/private/x?y=1");
            let later = now() + Duration::from_secs(10);
            assert_eq!(
                auth.authenticate_at(&request(Some(&header)), lookup, later)
                    .unwrap(),
                "ann"
            );
            // Wrong password, unknown user.
            let header = client_header(&auth, &nonce, algorithm, "ann", "bad", "/private/x?y=1");
            let res = auth
                .authenticate_at(&request(Some(&header)), lookup, later)
                .unwrap_err();
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
            let header = client_header(&auth, &nonce, algorithm, "bob", "pw", "/private/x?y=1");
            assert!(
                auth.authenticate_at(&request(Some(&header)), lookup, later)
                    .is_err()
            );
        }
        // An algorithm that is not offered.
        let md5_only = auth.clone().algorithms(&[DigestAlgorithm::Md5]).unwrap();
        let header = client_header(
            &auth,
            &nonce,
            DigestAlgorithm::Sha256,
            "ann",
            "pw",
            "/private/x?y=1",
        );
        assert!(
            md5_only
                .authenticate_at(&request(Some(&header)), lookup, now())
                .is_err()
        );
    }

    #[test]
    fn nonces_expire_and_cannot_be_forged() {
        let auth = DigestAuth::new("private", &[5; 32]).unwrap();
        let nonce = auth.nonce_at(now());
        let header = client_header(
            &auth,
            &nonce,
            DigestAlgorithm::Sha256,
            "ann",
            "pw",
            "/private/x?y=1",
        );
        let req = request(Some(&header));
        let ok = now() + Duration::from_secs(300);
        assert!(auth.authenticate_at(&req, lookup, ok).is_ok());
        // Expired: stale=true, but only when the password is right.
        let late = now() + Duration::from_secs(301);
        let rejection = auth.authenticate_at(&req, lookup, late).unwrap_err();
        assert!(rejection.is_stale());
        assert_eq!(rejection.to_string(), "the Digest nonce has expired");
        let res = rejection.into_response();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert!(
            res.headers()[WWW_AUTHENTICATE]
                .to_str()
                .unwrap()
                .ends_with(", stale=true")
        );
        let wrong = client_header(
            &auth,
            &nonce,
            DigestAlgorithm::Sha256,
            "ann",
            "x",
            "/private/x?y=1",
        );
        let res = auth
            .authenticate_at(&request(Some(&wrong)), lookup, late)
            .unwrap_err()
            .into_response();
        assert!(
            !res.headers()[WWW_AUTHENTICATE]
                .to_str()
                .unwrap()
                .contains("stale")
        );
        // Issued in the future.
        assert!(
            auth.authenticate_at(&req, lookup, now() - Duration::from_secs(61))
                .is_err()
        );
        // Another key's nonce, or a forged one.
        let other = DigestAuth::new("private", &[6; 32]).unwrap();
        assert_eq!(other.check_nonce(&nonce, now()), NonceState::Invalid);
        let mut raw = URL_SAFE_NO_PAD.decode(&nonce).unwrap();
        raw[0] ^= 1;
        assert_eq!(
            auth.check_nonce(&URL_SAFE_NO_PAD.encode(&raw), now()),
            NonceState::Invalid
        );
        assert_eq!(auth.check_nonce("short", now()), NonceState::Invalid);
        assert_eq!(auth.check_nonce("!!", now()), NonceState::Invalid);
        // A shorter lifetime.
        let quick = auth.clone().nonce_lifetime(Duration::from_secs(1));
        assert_eq!(
            quick.check_nonce(&nonce, now() + Duration::from_secs(2)),
            NonceState::Stale
        );
        // Nonces differ.
        assert_ne!(auth.nonce_at(now()), auth.nonce_at(now()));
    }

    #[test]
    fn mismatches() {
        let auth = DigestAuth::new("private", &[5; 32]).unwrap();
        let nonce = auth.nonce_at(now());
        let other_uri = client_header(
            &auth,
            &nonce,
            DigestAlgorithm::Md5,
            "ann",
            "pw",
            "/elsewhere",
        );
        let res = auth
            .authenticate_at(&request(Some(&other_uri)), lookup, now())
            .unwrap_err();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        let good = client_header(
            &auth,
            &nonce,
            DigestAlgorithm::Md5,
            "ann",
            "pw",
            "/private/x?y=1",
        );
        for (from, to) in [
            ("realm=\"private\"", "realm=\"other\""),
            ("qop=auth", "qop=auth-int"),
            ("nc=00000001", "nc=1"),
            ("opaque=\"", "opaque=\"x"),
            ("Digest ", "Basic "),
            ("algorithm=MD5", "algorithm=SHA-512"),
        ] {
            let header = good.replace(from, to);
            let res = auth
                .authenticate_at(&request(Some(&header)), lookup, now())
                .unwrap_err();
            assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{to}");
        }
        let userhash = format!("{good}, userhash=true");
        assert!(
            auth.authenticate_at(&request(Some(&userhash)), lookup, now())
                .is_err()
        );
        // Without opaque it still works; without algorithm, MD5 is assumed.
        let no_opaque = good.replace(&format!(", opaque=\"{}\"", auth.opaque), "");
        assert!(
            auth.authenticate_at(&request(Some(&no_opaque)), lookup, now())
                .is_ok()
        );
        let no_alg = good.replace("algorithm=MD5, ", "");
        assert!(
            auth.authenticate_at(&request(Some(&no_alg)), lookup, now())
                .is_ok()
        );
    }

    #[test]
    fn header_parsing() {
        assert_eq!(
            parse_auth_params("a=1, b=\"x, \\\"y\\\"\" ,c = 3"),
            Some(vec![
                ("a".into(), "1".into()),
                ("b".into(), "x, \"y\"".into()),
                ("c".into(), "3".into())
            ])
        );
        for bad in ["a", "a=1 b=2", "a=\"open", "=1", "a=1, A=2", "a=\"x\"y"] {
            assert_eq!(parse_auth_params(bad), None, "{bad}");
        }
        assert_eq!(parse_auth_params(""), Some(vec![]));
        assert!(DigestCredentials::parse("Digest").is_none());
        assert!(DigestCredentials::parse("Digest username=a").is_none());
    }

    #[test]
    fn htdigest_files() {
        let ha1 = DigestAlgorithm::Md5.ha1("ann", "private", "pw");
        let text = format!("ann:private:{ha1}\nbob:private:short\n\n#x:y:z\nc:d\n");
        let users = HtDigest::parse(&text);
        assert_eq!(users.len(), 1);
        assert!(!users.is_empty());
        assert!(format!("{users:?}").contains("users: 1"));
        let auth = DigestAuth::new("private", &[5; 32])
            .unwrap()
            .algorithms(&[DigestAlgorithm::Md5])
            .unwrap();
        let nonce = auth.nonce_at(now());
        let header = client_header(
            &auth,
            &nonce,
            DigestAlgorithm::Md5,
            "ann",
            "pw",
            "/private/x?y=1",
        );
        let user = auth
            .authenticate_at(
                &request(Some(&header)),
                |u, a| users.credentials("private", u, a),
                now(),
            )
            .unwrap();
        assert_eq!(user, "ann");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".htdigest");
        std::fs::write(&path, &text).unwrap();
        assert_eq!(HtDigest::open(&path).unwrap(), users);
    }

    #[test]
    fn configuration() {
        let secret = "s".repeat(32);
        let config = Config::from_iter([
            ("secret_key", secret.as_str()),
            ("digest_algorithms", "MD5, sha-256-sess"),
            ("digest_nonce_lifetime", "60"),
        ]);
        let auth = DigestAuth::from_config(&config, "r").unwrap();
        assert_eq!(
            auth.algorithms,
            [DigestAlgorithm::Md5, DigestAlgorithm::Sha256Sess]
        );
        assert_eq!(auth.nonce_lifetime, Duration::from_secs(60));
        assert_eq!(auth.realm(), "r");
        assert!(format!("{auth:?}").contains("realm"));
        let err = DigestAuth::from_config(&Config::new(), "r").unwrap_err();
        let init: InitError = err.into();
        assert!(init.to_string().contains("secret_key"));
        let bad = |k: &str, v: &str| {
            let config = Config::from_iter([("secret_key", secret.as_str()), (k, v)]);
            DigestAuth::from_config(&config, "r").unwrap_err()
        };
        assert_eq!(
            bad("digest_algorithms", "SHA-1"),
            DigestError::Algorithm("SHA-1".into())
        );
        assert!(matches!(
            bad("digest_algorithms", " , "),
            DigestError::Config(_)
        ));
        assert!(matches!(
            bad("digest_nonce_lifetime", "soon"),
            DigestError::Config(_)
        ));
        assert!(format!("{:?}", Credentials::Password("pw".into())).contains("<secret>"));
    }

    #[test]
    fn random_headers_never_panic() {
        let mut rng = crate::test_rng::Rng::new(0x5eed_0006);
        let alphabet = b"Digest usernam=\"\\,qopauthnc0001 ";
        for _ in 0..100_000 {
            let raw = rng.bytes_from(alphabet, 60);
            exercise_parser(&String::from_utf8_lossy(&raw));
        }
        exercise_parser(
            "Digest username=a, realm=b, nonce=c, uri=d, response=e, qop=auth, nc=00000001, cnonce=f",
        );
    }
}
