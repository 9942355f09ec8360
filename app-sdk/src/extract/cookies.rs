//! Cookies: the request's `Cookie` header ([`Cookies`]) and `Set-Cookie`
//! values built with validated attributes ([`Cookie`]).
//!
//! Pure code: parsing never fails and never panics.

use std::fmt::{self, Write as _};
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use http::header::{COOKIE, SET_COOKIE};
use http::{HeaderMap, HeaderValue};

use crate::extract::FromRequestParts;
use crate::pairs::Pairs;
use crate::{HttpError, Request};

/// The most bytes of name and value together that browsers keep.
const MAX_COOKIE_SIZE: usize = 4096;

/// The cookies a request carries, parsed from its `Cookie` header, in order.
///
/// Values are taken as they are, without their surrounding double quotes;
/// they are not percent-decoded. Pieces that do not parse are skipped.
///
/// ```
/// use app_sdk::extract::Cookies;
///
/// let cookies = Cookies::parse("theme=dark; sid=\"abc\"; junk; lang=en; theme=light");
/// assert_eq!(cookies.get("theme"), Some("dark"));
/// assert_eq!(cookies.get("sid"), Some("abc"));
/// assert_eq!(cookies.get_all("theme"), ["dark", "light"]);
/// assert_eq!(cookies.len(), 4);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cookies {
    pairs: Pairs,
}

impl Cookies {
    /// Parses a `Cookie` header value: `name=value` pairs separated by `;`.
    pub fn parse(header: &str) -> Cookies {
        let pairs = header
            .split(';')
            .filter_map(|piece| {
                let (name, value) = piece.split_once('=')?;
                let name = name.trim();
                if name.is_empty() || !name.bytes().all(is_token_byte) {
                    return None;
                }
                let value = value.trim();
                let value = value
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(value);
                Some((name.to_owned(), value.to_owned()))
            })
            .collect();
        Cookies { pairs }
    }

    /// The value of the first cookie called `name`. (When a browser sends
    /// two of the same name, the one with the longer path comes first.)
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.get(name).map(String::as_str)
    }

    /// The values of all cookies called `name`, in order.
    pub fn get_all(&self, name: &str) -> Vec<&str> {
        self.pairs.get_all(name).map(String::as_str).collect()
    }

    /// All cookies as `(name, value)`, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.pairs.iter().map(|(n, v)| (n, v.as_str()))
    }

    /// The number of cookies.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether there are no cookies.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

impl Request {
    /// The cookies of the request's `Cookie` header (bytes that are not
    /// UTF-8 become U+FFFD).
    ///
    /// ```
    /// use app_sdk::{Config, Environ, Request, RequestBody};
    ///
    /// let env = Environ::from_iter([("HTTP_COOKIE", "a=1; b=2")]);
    /// let req = Request::new(env, Config::new(), RequestBody::empty());
    /// assert_eq!(req.cookies().get("b"), Some("2"));
    /// assert_eq!(req.cookie("a").as_deref(), Some("1"));
    /// assert_eq!(req.cookie("c"), None);
    /// ```
    pub fn cookies(&self) -> Cookies {
        let mut all = Cookies::default();
        for value in self.headers().get_all(COOKIE) {
            all.pairs
                .extend(Cookies::parse(&String::from_utf8_lossy(value.as_bytes())).pairs);
        }
        all
    }

    /// The value of the first cookie called `name`.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies().get(name).map(str::to_owned)
    }
}

/// The `SameSite` attribute of a cookie.
///
/// It parses from its name, whatever the case; anything else is an error:
///
/// ```
/// use app_sdk::extract::SameSite;
///
/// assert_eq!("lax".parse::<SameSite>().unwrap(), SameSite::Lax);
/// assert_eq!(SameSite::None.to_string(), "None");
/// assert!("sometimes".parse::<SameSite>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SameSite {
    /// Sent only with requests from the same site.
    Strict,
    /// Also sent when the user follows a link from another site.
    Lax,
    /// Sent with every request; needs `Secure`.
    None,
}

impl fmt::Display for SameSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        })
    }
}

impl FromStr for SameSite {
    type Err = CookieError;

    fn from_str(s: &str) -> Result<SameSite, CookieError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "strict" => Ok(SameSite::Strict),
            "lax" => Ok(SameSite::Lax),
            "none" => Ok(SameSite::None),
            _ => Err(CookieError::SameSite(s.to_owned())),
        }
    }
}

/// A cookie to set, with its attributes: rendered as a `Set-Cookie` value by
/// [`to_header_value`](Cookie::to_header_value), which checks it first.
///
/// `HttpOnly` is on unless turned off; nothing else is set by default.
///
/// ```
/// use std::time::Duration;
/// use app_sdk::http::HeaderMap;
/// use app_sdk::extract::{Cookie, SameSite};
///
/// let cookie = Cookie::new("theme", "dark")
///     .path("/")
///     .max_age(Duration::from_secs(3600))
///     .secure(true)
///     .same_site(SameSite::Lax);
/// assert_eq!(
///     cookie.to_header_value().unwrap(),
///     "theme=dark; Path=/; Max-Age=3600; Secure; HttpOnly; SameSite=Lax"
/// );
///
/// let mut headers = HeaderMap::new();
/// cookie.append_to(&mut headers).unwrap();
/// Cookie::removal("old").path("/").append_to(&mut headers).unwrap();
/// assert_eq!(headers.get_all("set-cookie").iter().count(), 2);
///
/// // SameSite=None needs Secure.
/// assert!(Cookie::new("a", "b").same_site(SameSite::None).to_header_value().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cookie {
    name: String,
    value: String,
    path: Option<String>,
    domain: Option<String>,
    max_age: Option<Duration>,
    expires: Option<SystemTime>,
    secure: bool,
    http_only: bool,
    same_site: Option<SameSite>,
}

impl Cookie {
    /// A cookie called `name` holding `value`, `HttpOnly`.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Cookie {
        Cookie {
            name: name.into(),
            value: value.into(),
            path: None,
            domain: None,
            max_age: None,
            expires: None,
            secure: false,
            http_only: true,
            same_site: None,
        }
    }

    /// A cookie that makes the browser delete the cookie `name`: empty,
    /// `Max-Age=0` and expired. Give it the `Path` and `Domain` the cookie
    /// was set with.
    ///
    /// ```
    /// let c = app_sdk::extract::Cookie::removal("sid").path("/");
    /// assert_eq!(
    ///     c.to_header_value().unwrap(),
    ///     "sid=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly"
    /// );
    /// ```
    pub fn removal(name: impl Into<String>) -> Cookie {
        Cookie::new(name, "")
            .max_age(Duration::ZERO)
            .expires(SystemTime::UNIX_EPOCH)
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Sets `Path`, which must start with `/`.
    #[must_use]
    pub fn path(mut self, path: impl Into<String>) -> Cookie {
        self.path = Some(path.into());
        self
    }

    /// Sets `Domain`.
    #[must_use]
    pub fn domain(mut self, domain: impl Into<String>) -> Cookie {
        self.domain = Some(domain.into());
        self
    }

    /// Sets `Max-Age`, in whole seconds.
    #[must_use]
    pub fn max_age(mut self, max_age: Duration) -> Cookie {
        self.max_age = Some(max_age);
        self
    }

    /// Sets `Expires`.
    #[must_use]
    pub fn expires(mut self, at: SystemTime) -> Cookie {
        self.expires = Some(at);
        self
    }

    /// Sets or clears `Secure`: the cookie is sent over HTTPS only.
    #[must_use]
    pub fn secure(mut self, secure: bool) -> Cookie {
        self.secure = secure;
        self
    }

    /// Sets or clears `HttpOnly` (on by default): scripts cannot read the
    /// cookie.
    #[must_use]
    pub fn http_only(mut self, http_only: bool) -> Cookie {
        self.http_only = http_only;
        self
    }

    /// Sets `SameSite`.
    #[must_use]
    pub fn same_site(mut self, same_site: SameSite) -> Cookie {
        self.same_site = Some(same_site);
        self
    }

    /// Checks the cookie: the name must be a token; the value made of cookie
    /// octets (RFC 6265: visible ASCII but `"`, `,`, `;` and `\`); name and
    /// value at most 4096 bytes together; `Path` starting with `/` and
    /// without `;` or control characters; `Domain` a host name;
    /// `SameSite=None` with `Secure`; and the rules of the `__Secure-` and
    /// `__Host-` name prefixes.
    pub fn validate(&self) -> Result<(), CookieError> {
        if self.name.is_empty() || !self.name.bytes().all(is_token_byte) {
            return Err(CookieError::Name(self.name.clone()));
        }
        if !self.value.bytes().all(is_cookie_octet) {
            return Err(CookieError::Value(self.name.clone()));
        }
        if self.name.len() + self.value.len() > MAX_COOKIE_SIZE {
            return Err(CookieError::TooLarge(self.name.clone()));
        }
        if let Some(path) = &self.path {
            if !path.starts_with('/') || path.bytes().any(|b| b == b';' || b.is_ascii_control()) {
                return Err(CookieError::Path(path.clone()));
            }
        }
        if let Some(domain) = &self.domain {
            let host = domain.strip_prefix('.').unwrap_or(domain);
            let ok = !host.is_empty()
                && host.len() <= 253
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
            if !ok {
                return Err(CookieError::Domain(domain.clone()));
            }
        }
        if self.same_site == Some(SameSite::None) && !self.secure {
            return Err(CookieError::SameSiteNoneWithoutSecure);
        }
        let host_prefix = self.name.starts_with("__Host-");
        if (host_prefix || self.name.starts_with("__Secure-")) && !self.secure {
            return Err(CookieError::Prefix(self.name.clone()));
        }
        if host_prefix && (self.domain.is_some() || self.path.as_deref() != Some("/")) {
            return Err(CookieError::Prefix(self.name.clone()));
        }
        Ok(())
    }

    /// The `Set-Cookie` value, once [`validate`](Cookie::validate) passes.
    pub fn to_header_value(&self) -> Result<HeaderValue, CookieError> {
        self.validate()?;
        let mut out = format!("{}={}", self.name, self.value);
        if let Some(path) = &self.path {
            let _ = write!(out, "; Path={path}");
        }
        if let Some(domain) = &self.domain {
            let _ = write!(out, "; Domain={domain}");
        }
        if let Some(max_age) = self.max_age {
            let _ = write!(out, "; Max-Age={}", max_age.as_secs());
        }
        if let Some(expires) = self.expires {
            let _ = write!(out, "; Expires={}", httpdate::fmt_http_date(expires));
        }
        if self.secure {
            out.push_str("; Secure");
        }
        if self.http_only {
            out.push_str("; HttpOnly");
        }
        if let Some(same_site) = self.same_site {
            let _ = write!(out, "; SameSite={same_site}");
        }
        // Validation leaves only visible ASCII and spaces.
        HeaderValue::from_str(&out).map_err(|_| CookieError::Value(self.name.clone()))
    }

    /// Appends the cookie to `headers` as a `Set-Cookie` header (for example
    /// to a response's [`headers_mut`](http::Response::headers_mut)).
    pub fn append_to(&self, headers: &mut HeaderMap) -> Result<(), CookieError> {
        headers.append(SET_COOKIE, self.to_header_value()?);
        Ok(())
    }
}

/// Why a [`Cookie`] is not valid.
///
/// ```
/// use app_sdk::extract::{Cookie, CookieError};
///
/// let err = Cookie::new("a b", "x").validate().unwrap_err();
/// assert_eq!(err, CookieError::Name("a b".into()));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CookieError {
    /// The name is not an HTTP token.
    Name(String),
    /// The value of the named cookie holds bytes cookies cannot hold.
    Value(String),
    /// The named cookie is over 4096 bytes.
    TooLarge(String),
    /// The path does not start with `/` or holds `;` or control characters.
    Path(String),
    /// The domain is not a host name.
    Domain(String),
    /// Not a `SameSite` value.
    SameSite(String),
    /// `SameSite=None` without `Secure`.
    SameSiteNoneWithoutSecure,
    /// A `__Secure-` cookie without `Secure`, or a `__Host-` one without
    /// `Secure` and `Path=/` or with a `Domain`.
    Prefix(String),
}

impl fmt::Display for CookieError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CookieError::Name(n) => write!(f, "{n:?} is not a valid cookie name"),
            CookieError::Value(n) => write!(f, "the value of cookie {n:?} holds invalid bytes"),
            CookieError::TooLarge(n) => write!(f, "cookie {n:?} is over {MAX_COOKIE_SIZE} bytes"),
            CookieError::Path(p) => write!(f, "{p:?} is not a valid cookie path"),
            CookieError::Domain(d) => write!(f, "{d:?} is not a valid cookie domain"),
            CookieError::SameSite(s) => {
                write!(f, "{s:?} is not a SameSite value (Strict, Lax or None)")
            }
            CookieError::SameSiteNoneWithoutSecure => {
                write!(f, "a SameSite=None cookie must be Secure")
            }
            CookieError::Prefix(n) => write!(f, "cookie {n:?} breaks the rules of its prefix"),
        }
    }
}

impl std::error::Error for CookieError {}

/// A 500 caused by the error (an invalid cookie is the app's bug), which
/// goes to the error log.
impl From<CookieError> for HttpError {
    fn from(e: CookieError) -> HttpError {
        log::error!("{e}");
        HttpError::internal().with_source(e)
    }
}

/// The request's cookies ([`Request::cookies`]) as a handler argument.
///
/// ```
/// use app_sdk::Router;
/// use app_sdk::extract::Cookies;
///
/// let router = Router::new().get("/", |cookies: Cookies| {
///     format!("theme: {}", cookies.get("theme").unwrap_or("light"))
/// });
/// # let _ = router;
/// ```
impl FromRequestParts for Cookies {
    type Rejection = std::convert::Infallible;

    fn from_request_parts(req: &mut Request) -> Result<Cookies, Self::Rejection> {
        Ok(req.cookies())
    }
}

/// An HTTP token byte (RFC 9110 `tchar`).
pub(crate) fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// An RFC 6265 `cookie-octet`.
fn is_cookie_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, Environ, RequestBody};

    #[test]
    fn parsing() {
        let c = Cookies::parse(" a = 1 ;b=\"2\";;=x; c=; d=e=f; bad name=1; \"q\"=1; e=\"");
        let pairs: Vec<_> = c.iter().collect();
        assert_eq!(
            pairs,
            [("a", "1"), ("b", "2"), ("c", ""), ("d", "e=f"), ("e", "\"")]
        );
        assert!(Cookies::parse("").is_empty());
        assert!(Cookies::parse("novalue").is_empty());
    }

    #[test]
    fn request_cookies() {
        let env = Environ::from_iter([("HTTP_COOKIE", &b"a=1; b=caf\xe9"[..])]);
        let req = Request::new(env, Config::new(), RequestBody::empty());
        assert_eq!(req.cookie("b").as_deref(), Some("caf\u{fffd}"));
        let req = Request::new(Environ::new(), Config::new(), RequestBody::empty());
        assert!(req.cookies().is_empty());
    }

    #[test]
    fn attributes() {
        let c = Cookie::new("n", "v")
            .domain("example.com")
            .http_only(false)
            .same_site(SameSite::Strict)
            .expires(SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000));
        assert_eq!(
            c.to_header_value().unwrap(),
            "n=v; Domain=example.com; Expires=Sun, 09 Sep 2001 01:46:40 GMT; SameSite=Strict"
        );
        assert_eq!((c.name(), c.value()), ("n", "v"));
        let c = Cookie::new("n", "v").secure(true).same_site(SameSite::None);
        assert_eq!(
            c.to_header_value().unwrap(),
            "n=v; Secure; HttpOnly; SameSite=None"
        );
    }

    #[test]
    fn validation() {
        let bad = |c: Cookie| c.validate().unwrap_err();
        assert_eq!(bad(Cookie::new("", "v")), CookieError::Name(String::new()));
        assert_eq!(
            bad(Cookie::new("a;b", "v")),
            CookieError::Name("a;b".into())
        );
        for value in ["a b", "a;b", "a,b", "a\"b", "a\\b", "é", "a\nb"] {
            assert_eq!(bad(Cookie::new("n", value)), CookieError::Value("n".into()));
        }
        assert_eq!(
            bad(Cookie::new("n", "v".repeat(4096))),
            CookieError::TooLarge("n".into())
        );
        assert!(Cookie::new("n", "v".repeat(4095)).validate().is_ok());
        for path in ["rel", "/a;b", "/a\nb", ""] {
            assert_eq!(
                bad(Cookie::new("n", "v").path(path)),
                CookieError::Path(path.into())
            );
        }
        for domain in ["", ".", "a b", "a/b", "a;b"] {
            assert_eq!(
                bad(Cookie::new("n", "v").domain(domain)),
                CookieError::Domain(domain.into())
            );
        }
        assert!(
            Cookie::new("n", "v")
                .domain(".example.com")
                .validate()
                .is_ok()
        );
        assert_eq!(
            bad(Cookie::new("n", "v").same_site(SameSite::None)),
            CookieError::SameSiteNoneWithoutSecure
        );
        assert!(
            bad(Cookie::new("__Secure-a", "v"))
                .to_string()
                .contains("prefix")
        );
        assert!(
            Cookie::new("__Secure-a", "v")
                .secure(true)
                .validate()
                .is_ok()
        );
        assert!(
            Cookie::new("__Host-a", "v")
                .secure(true)
                .validate()
                .is_err()
        );
        assert!(
            Cookie::new("__Host-a", "v")
                .secure(true)
                .path("/")
                .domain("x.org")
                .validate()
                .is_err()
        );
        assert!(
            Cookie::new("__Host-a", "v")
                .secure(true)
                .path("/")
                .validate()
                .is_ok()
        );
        assert_eq!(" STRICT ".parse::<SameSite>().unwrap(), SameSite::Strict);
        assert_eq!(
            "x".parse::<SameSite>().unwrap_err().to_string(),
            "\"x\" is not a SameSite value (Strict, Lax or None)"
        );
        let mut headers = HeaderMap::new();
        assert!(Cookie::new("", "").append_to(&mut headers).is_err());
        assert!(headers.is_empty());
    }
}
