//! Who the client is and how it reached the app: its address, the scheme,
//! the host, URLs built from them, and the user Apache authenticated.
//!
//! `X-Forwarded-For`, `X-Forwarded-Proto` and `X-Forwarded-Host` are
//! honoured only when the request comes from a trusted proxy: one whose
//! address (`REMOTE_ADDR`) is in the `trusted_proxies` configuration key
//! ([`TrustedProxies`]). Anyone else can send those headers, so they are
//! ignored otherwise.

use std::fmt;
use std::net::IpAddr;

use http::header::HOST;

use crate::{Config, InitError, Request};

/// The configuration key listing the trusted proxies.
pub const TRUSTED_PROXIES_KEY: &str = "trusted_proxies";

/// Addresses and networks of reverse proxies whose `X-Forwarded-*` headers
/// are believed: IPs and CIDR blocks, IPv4 or IPv6, separated by commas or
/// spaces (`RustgiAppConfig trusted_proxies "10.0.0.0/8, ::1"`).
///
/// ```
/// use app_sdk::extract::TrustedProxies;
///
/// let proxies = TrustedProxies::parse("10.0.0.0/8, 192.168.1.1 ::1").unwrap();
/// assert!(proxies.contains("10.1.2.3".parse().unwrap()));
/// assert!(proxies.contains("::ffff:192.168.1.1".parse().unwrap()));
/// assert!(!proxies.contains("192.168.1.2".parse().unwrap()));
/// assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Vec<(IpAddr, u8)>,
}

impl TrustedProxies {
    /// No trusted proxies: the headers are never believed.
    pub fn none() -> TrustedProxies {
        TrustedProxies::default()
    }

    /// Parses a list of IPs and CIDR blocks, failing on the first entry that
    /// is neither.
    pub fn parse(list: &str) -> Result<TrustedProxies, ProxyListError> {
        let mut nets = Vec::new();
        for entry in entries(list) {
            nets.push(parse_net(entry).ok_or_else(|| ProxyListError(entry.to_owned()))?);
        }
        Ok(TrustedProxies { nets })
    }

    /// The list of the `trusted_proxies` key (none when it is not set),
    /// failing, for [`App::init`](crate::App::init), when an entry does not
    /// parse.
    ///
    /// ```
    /// use app_sdk::Config;
    /// use app_sdk::extract::TrustedProxies;
    ///
    /// let config = Config::from_iter([("trusted_proxies", "127.0.0.1")]);
    /// assert!(!TrustedProxies::from_config(&config).unwrap().is_empty());
    /// let config = Config::from_iter([("trusted_proxies", "localhost")]);
    /// assert!(TrustedProxies::from_config(&config).is_err());
    /// ```
    pub fn from_config(config: &Config) -> Result<TrustedProxies, InitError> {
        match config.get(TRUSTED_PROXIES_KEY) {
            None => Ok(TrustedProxies::none()),
            Some(list) => TrustedProxies::parse(list)
                .map_err(|e| InitError::new(format!("{TRUSTED_PROXIES_KEY}: {e}"))),
        }
    }

    /// The entries of `list` that parse, skipping the others.
    fn parse_lenient(list: &str) -> TrustedProxies {
        TrustedProxies {
            nets: entries(list).filter_map(parse_net).collect(),
        }
    }

    /// Whether `addr` is one of the proxies.
    pub fn contains(&self, addr: IpAddr) -> bool {
        let addr = addr.to_canonical();
        self.nets.iter().any(|&(net, bits)| match (net, addr) {
            (IpAddr::V4(net), IpAddr::V4(addr)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
                u32::from(net) & mask == u32::from(addr) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(addr)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
                u128::from(net) & mask == u128::from(addr) & mask
            }
            _ => false,
        })
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }
}

fn entries(list: &str) -> impl Iterator<Item = &str> {
    list.split([',', ' ', '\t', '\n'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
}

/// `ip` or `ip/bits`.
fn parse_net(entry: &str) -> Option<(IpAddr, u8)> {
    let (ip, bits) = match entry.split_once('/') {
        Some((ip, bits)) => (ip, Some(bits)),
        None => (entry, None),
    };
    let ip: IpAddr = ip.parse().ok()?;
    let ip = ip.to_canonical();
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let bits = match bits {
        None => max,
        Some(b) if !b.is_empty() && b.bytes().all(|c| c.is_ascii_digit()) => b.parse().ok()?,
        Some(_) => return None,
    };
    (bits <= max).then_some((ip, bits))
}

/// An entry of a trusted proxy list that is neither an IP nor a CIDR block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyListError(String);

impl fmt::Display for ProxyListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is not an IP address or a CIDR block", self.0)
    }
}

impl std::error::Error for ProxyListError {}

impl Request {
    /// The address of the peer that sent the request (`REMOTE_ADDR`): the
    /// client, or a proxy in front of the app.
    ///
    /// ```
    /// use app_sdk::{Config, Environ, Request, RequestBody};
    ///
    /// let env = Environ::from_iter([("REMOTE_ADDR", "203.0.113.9")]);
    /// let req = Request::new(env, Config::new(), RequestBody::empty());
    /// assert_eq!(req.peer_addr(), Some("203.0.113.9".parse().unwrap()));
    /// ```
    pub fn peer_addr(&self) -> Option<IpAddr> {
        self.environ()
            .get("REMOTE_ADDR")
            .and_then(|a| a.trim().parse::<IpAddr>().ok())
            .map(|a| a.to_canonical())
    }

    /// The proxies of the `trusted_proxies` key of the request's
    /// configuration (entries that do not parse are skipped here; check the
    /// list at start-up with [`TrustedProxies::from_config`]).
    pub fn trusted_proxies(&self) -> TrustedProxies {
        self.config()
            .get(TRUSTED_PROXIES_KEY)
            .map(TrustedProxies::parse_lenient)
            .unwrap_or_default()
    }

    /// Whether the peer is a trusted proxy, whose `X-Forwarded-*` headers
    /// are believed.
    pub fn is_from_trusted_proxy(&self) -> bool {
        self.peer_addr()
            .is_some_and(|peer| self.trusted_proxies().contains(peer))
    }

    /// The client's address.
    ///
    /// That is the peer's address, unless the peer is a trusted proxy: then
    /// it is the last address of `X-Forwarded-For` that is not itself a
    /// trusted proxy (walking from the right, from the nearest hop), or the
    /// first one if all are.
    ///
    /// ```
    /// use app_sdk::{Config, Environ, Request, RequestBody};
    ///
    /// let env = Environ::from_iter([
    ///     ("REMOTE_ADDR", "10.0.0.2"),
    ///     ("HTTP_X_FORWARDED_FOR", "6.6.6.6, 198.51.100.7, 10.0.0.1"),
    /// ]);
    /// let config = Config::from_iter([("trusted_proxies", "10.0.0.0/24")]);
    /// let req = Request::new(env.clone(), config, RequestBody::empty());
    /// assert_eq!(req.remote_addr(), Some("198.51.100.7".parse().unwrap()));
    ///
    /// // Without trusted proxies the header is ignored.
    /// let req = Request::new(env, Config::new(), RequestBody::empty());
    /// assert_eq!(req.remote_addr(), Some("10.0.0.2".parse().unwrap()));
    /// ```
    pub fn remote_addr(&self) -> Option<IpAddr> {
        let peer = self.peer_addr()?;
        let proxies = self.trusted_proxies();
        if !proxies.contains(peer) {
            return Some(peer);
        }
        let Some(forwarded) = self.forwarded_header("x-forwarded-for") else {
            return Some(peer);
        };
        let mut client = peer;
        for hop in forwarded.rsplit(',') {
            let Some(addr) = parse_forwarded_addr(hop) else {
                break;
            };
            client = addr;
            if !proxies.contains(addr) {
                break;
            }
        }
        Some(client)
    }

    /// `https` or `http`: how the client reached the server.
    ///
    /// It is `https` when the connection uses TLS (`HTTPS=on`), or when a
    /// trusted proxy says so with `X-Forwarded-Proto: https` (its first
    /// value); a trusted proxy's `X-Forwarded-Proto: http` makes it `http`.
    ///
    /// ```
    /// use app_sdk::{Config, Environ, Request, RequestBody};
    ///
    /// let env = Environ::from_iter([("REMOTE_ADDR", "127.0.0.1"), ("HTTP_X_FORWARDED_PROTO", "https")]);
    /// let trusted = Config::from_iter([("trusted_proxies", "127.0.0.1")]);
    /// let req = Request::new(env.clone(), trusted, RequestBody::empty());
    /// assert_eq!(req.scheme(), "https");
    /// assert!(req.is_secure());
    /// let req = Request::new(env, Config::new(), RequestBody::empty());
    /// assert_eq!(req.scheme(), "http");
    /// ```
    pub fn scheme(&self) -> &'static str {
        if self.is_from_trusted_proxy() {
            let proto = self
                .forwarded_header("x-forwarded-proto")
                .and_then(|v| v.split(',').next().map(|p| p.trim().to_ascii_lowercase()));
            match proto.as_deref() {
                Some("https") => return "https",
                Some("http") => return "http",
                _ => {}
            }
        }
        let env = self.environ();
        let https = env.get("HTTPS").is_some_and(|v| {
            v.eq_ignore_ascii_case("on") || v == "1" || v.eq_ignore_ascii_case("true")
        });
        if https
            || env
                .get("REQUEST_SCHEME")
                .is_some_and(|s| s.eq_ignore_ascii_case("https"))
        {
            "https"
        } else {
            "http"
        }
    }

    /// Whether the client reached the server over HTTPS (see
    /// [`scheme`](Request::scheme)).
    pub fn is_secure(&self) -> bool {
        self.scheme() == "https"
    }

    /// The host (and port, if not the default one) the client asked for:
    /// a trusted proxy's `X-Forwarded-Host` (its first value), else the
    /// `Host` header, else `SERVER_NAME` and `SERVER_PORT`. Values that are
    /// not a valid host are skipped; the result is lowercase.
    ///
    /// ```
    /// use app_sdk::{Config, Environ, Request, RequestBody};
    ///
    /// let env = Environ::from_iter([("HTTP_HOST", "Shop.Example:8080")]);
    /// let req = Request::new(env, Config::new(), RequestBody::empty());
    /// assert_eq!(req.host(), "shop.example:8080");
    ///
    /// let env = Environ::from_iter([("SERVER_NAME", "example.org"), ("SERVER_PORT", "80")]);
    /// let req = Request::new(env, Config::new(), RequestBody::empty());
    /// assert_eq!(req.host(), "example.org");
    /// ```
    pub fn host(&self) -> String {
        if self.is_from_trusted_proxy() {
            if let Some(host) = self
                .forwarded_header("x-forwarded-host")
                .and_then(|v| v.split(',').next().map(str::trim).and_then(valid_host))
            {
                return host;
            }
        }
        if let Some(host) = self
            .headers()
            .get(HOST)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| valid_host(v.trim()))
        {
            return host;
        }
        let env = self.environ();
        let name = env.get("SERVER_NAME").unwrap_or_default();
        let port = env.get("SERVER_PORT").unwrap_or_default();
        let default_port = if self.is_secure() { "443" } else { "80" };
        let host = if port.is_empty() || port == default_port {
            name.to_owned()
        } else {
            format!("{name}:{port}")
        };
        valid_host(&host).unwrap_or_else(|| "localhost".to_owned())
    }

    /// The absolute URL of `path`, a path relative to where the app is
    /// mounted: scheme, host, [`script_name`](Request::script_name) and
    /// `path` (a query or fragment may follow it). Characters that cannot
    /// appear in a URL are percent-encoded; `%` is kept, so an encoded path
    /// stays as it is.
    ///
    /// ```
    /// use app_sdk::{Config, Environ, Request, RequestBody};
    ///
    /// let env = Environ::from_iter([
    ///     ("HTTP_HOST", "example.com"),
    ///     ("HTTPS", "on"),
    ///     ("SCRIPT_NAME", "/shop"),
    /// ]);
    /// let req = Request::new(env, Config::new(), RequestBody::empty());
    /// assert_eq!(req.absolute_url("/items/1?x=y"), "https://example.com/shop/items/1?x=y");
    /// assert_eq!(req.absolute_url("caf\u{e9} menu"), "https://example.com/shop/caf%C3%A9%20menu");
    /// ```
    pub fn absolute_url(&self, path: &str) -> String {
        let mut url = format!("{}://{}", self.scheme(), self.host());
        encode_url_into(&mut url, self.script_name().as_bytes(), false);
        if !path.starts_with('/') {
            url.push('/');
        }
        encode_url_into(&mut url, path.as_bytes(), true);
        url
    }

    /// The absolute URL of this request: scheme, host, and the request
    /// target (path and query) the client sent.
    ///
    /// ```
    /// use app_sdk::{Config, Environ, Request, RequestBody};
    ///
    /// let env = Environ::from_iter([("HTTP_HOST", "example.com"), ("REQUEST_URI", "/a/b?c=d")]);
    /// let req = Request::new(env, Config::new(), RequestBody::empty());
    /// assert_eq!(req.request_url(), "http://example.com/a/b?c=d");
    /// ```
    pub fn request_url(&self) -> String {
        let target = self
            .uri()
            .path_and_query()
            .map_or("/", |pq| pq.as_str())
            .to_owned();
        format!("{}://{}{}", self.scheme(), self.host(), target)
    }

    /// The user Apache authenticated (`REMOTE_USER`), for example with
    /// `AuthType Basic` and `Require valid-user`; `None` when no module
    /// authenticated the request.
    ///
    /// ```
    /// use app_sdk::{Config, Environ, Request, RequestBody};
    ///
    /// let env = Environ::from_iter([("REMOTE_USER", "ann"), ("AUTH_TYPE", "Basic")]);
    /// let req = Request::new(env, Config::new(), RequestBody::empty());
    /// assert_eq!(req.remote_user(), Some("ann"));
    /// assert_eq!(req.auth_type(), Some("Basic"));
    /// ```
    pub fn remote_user(&self) -> Option<&str> {
        self.environ().get("REMOTE_USER").filter(|u| !u.is_empty())
    }

    /// How Apache authenticated the user (`AUTH_TYPE`: `Basic`, `Digest`,
    /// ...).
    pub fn auth_type(&self) -> Option<&str> {
        self.environ().get("AUTH_TYPE").filter(|t| !t.is_empty())
    }

    /// A header that only trusted proxies may set, as text.
    fn forwarded_header(&self, name: &str) -> Option<&str> {
        self.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.trim().is_empty())
    }
}

/// An `X-Forwarded-For` hop: an IP, maybe with a port (`1.2.3.4:5`,
/// `[::1]:5`).
fn parse_forwarded_addr(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Some(rest) = hop.strip_prefix('[') {
        let (ip, _) = rest.split_once(']')?;
        return ip.parse::<IpAddr>().ok().map(|ip| ip.to_canonical());
    }
    let (ip, port) = hop.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    ip.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

/// `host` lowercased if it is a valid `host[:port]` (a reg-name or IPv4, or
/// an IPv6 literal in brackets), else `None`.
fn valid_host(host: &str) -> Option<String> {
    if host.is_empty() || host.len() > 255 {
        return None;
    }
    let (name, port) = if let Some(rest) = host.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        v6.parse::<std::net::Ipv6Addr>().ok()?;
        match after {
            "" => (host, None),
            p => (&host[..v6.len() + 2], Some(p.strip_prefix(':')?)),
        }
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (host, None),
        }
    };
    if let Some(port) = port {
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) || port.len() > 5 {
            return None;
        }
    }
    if !name.starts_with('[')
        && (name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_'))
    {
        return None;
    }
    Some(host.to_ascii_lowercase())
}

/// Appends `bytes` percent-encoding what a URL cannot hold; with `query`,
/// `?`, `#` and `%` stay as they are (the app's path may hold a query, a
/// fragment and escapes).
fn encode_url_into(out: &mut String, bytes: &[u8], query: bool) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in bytes {
        let keep = b.is_ascii_alphanumeric()
            || b"-._~!$&'()*+,;=:@/".contains(&b)
            || (query && b"?#%[]".contains(&b));
        if keep {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Environ, RequestBody};

    fn request(vars: &[(&str, &str)], proxies: Option<&str>) -> Request {
        let env: Environ = vars.iter().copied().collect();
        let mut config = Config::new();
        if let Some(p) = proxies {
            config.push(TRUSTED_PROXIES_KEY, p);
        }
        Request::new(env, config, RequestBody::empty())
    }

    #[test]
    fn proxy_lists() {
        let p =
            TrustedProxies::parse("10.0.0.0/8,,172.16.0.0/12 2001:db8::/32\t127.0.0.1").unwrap();
        for yes in [
            "10.255.0.1",
            "172.31.1.1",
            "2001:db8::1",
            "127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(p.contains(yes.parse().unwrap()), "{yes}");
        }
        for no in ["11.0.0.1", "172.32.0.1", "2001:db9::1", "127.0.0.2", "::1"] {
            assert!(!p.contains(no.parse().unwrap()), "{no}");
        }
        let all = TrustedProxies::parse("0.0.0.0/0 ::/0").unwrap();
        assert!(all.contains("1.2.3.4".parse().unwrap()));
        assert!(all.contains("::2".parse().unwrap()));
        for bad in [
            "x",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "::/129",
            "1.2.3.4/33",
            "1.2.3",
        ] {
            let err = TrustedProxies::parse(bad).unwrap_err();
            assert!(err.to_string().contains("not an IP"), "{bad}");
        }
        assert!(TrustedProxies::parse("").unwrap().is_empty());
        assert!(
            TrustedProxies::from_config(&Config::new())
                .unwrap()
                .is_empty()
        );
        // Requests skip bad entries rather than failing.
        let req = request(&[("REMOTE_ADDR", "10.0.0.1")], Some("junk 10.0.0.1"));
        assert!(req.is_from_trusted_proxy());
    }

    #[test]
    fn client_addresses() {
        let xff = "HTTP_X_FORWARDED_FOR";
        let req = request(&[("REMOTE_ADDR", "10.0.0.1"), (xff, "1.1.1.1")], None);
        assert_eq!(req.remote_addr(), Some("10.0.0.1".parse().unwrap()));
        let req = request(
            &[("REMOTE_ADDR", "10.0.0.1"), (xff, "1.1.1.1")],
            Some("10.0.0.1"),
        );
        assert_eq!(req.remote_addr(), Some("1.1.1.1".parse().unwrap()));
        // All hops trusted: the first one.
        let req = request(
            &[("REMOTE_ADDR", "10.0.0.1"), (xff, "10.0.0.3, 10.0.0.2")],
            Some("10.0.0.0/8"),
        );
        assert_eq!(req.remote_addr(), Some("10.0.0.3".parse().unwrap()));
        // A bad hop stops the walk at the last good one.
        let req = request(
            &[
                ("REMOTE_ADDR", "10.0.0.1"),
                (xff, "1.1.1.1, junk, 10.0.0.2"),
            ],
            Some("10.0.0.0/8"),
        );
        assert_eq!(req.remote_addr(), Some("10.0.0.2".parse().unwrap()));
        // Ports and brackets.
        let req = request(
            &[
                ("REMOTE_ADDR", "::1"),
                (xff, "[2001:db8::5]:443, 1.2.3.4:80"),
            ],
            Some("::1"),
        );
        assert_eq!(req.remote_addr(), Some("1.2.3.4".parse().unwrap()));
        let req = request(
            &[("REMOTE_ADDR", "::1"), (xff, "[2001:db8::5]:443")],
            Some("::1"),
        );
        assert_eq!(req.remote_addr(), Some("2001:db8::5".parse().unwrap()));
        // No header, no address.
        let req = request(&[("REMOTE_ADDR", "10.0.0.1")], Some("10.0.0.1"));
        assert_eq!(req.remote_addr(), Some("10.0.0.1".parse().unwrap()));
        assert_eq!(request(&[], None).remote_addr(), None);
        assert_eq!(request(&[("REMOTE_ADDR", "x")], None).peer_addr(), None);
    }

    #[test]
    fn schemes() {
        assert_eq!(request(&[], None).scheme(), "http");
        assert_eq!(request(&[("HTTPS", "on")], None).scheme(), "https");
        assert_eq!(request(&[("HTTPS", "off")], None).scheme(), "http");
        assert_eq!(
            request(&[("REQUEST_SCHEME", "https")], None).scheme(),
            "https"
        );
        let proto = "HTTP_X_FORWARDED_PROTO";
        let vars = [("REMOTE_ADDR", "10.0.0.1"), (proto, "HTTPS, http")];
        assert_eq!(request(&vars, None).scheme(), "http");
        assert_eq!(request(&vars, Some("10.0.0.1")).scheme(), "https");
        let vars = [
            ("REMOTE_ADDR", "10.0.0.1"),
            ("HTTPS", "on"),
            (proto, "http"),
        ];
        assert_eq!(request(&vars, Some("10.0.0.1")).scheme(), "http");
        let vars = [
            ("REMOTE_ADDR", "10.0.0.1"),
            ("HTTPS", "on"),
            (proto, "gopher"),
        ];
        assert_eq!(request(&vars, Some("10.0.0.1")).scheme(), "https");
    }

    #[test]
    fn hosts() {
        let fwd = "HTTP_X_FORWARDED_HOST";
        let vars = [
            ("REMOTE_ADDR", "10.0.0.1"),
            ("HTTP_HOST", "internal:8080"),
            (fwd, "Public.Example, x"),
        ];
        assert_eq!(request(&vars, None).host(), "internal:8080");
        assert_eq!(request(&vars, Some("10.0.0.1")).host(), "public.example");
        let vars = [
            ("REMOTE_ADDR", "10.0.0.1"),
            ("HTTP_HOST", "internal"),
            (fwd, "bad/host"),
        ];
        assert_eq!(request(&vars, Some("10.0.0.1")).host(), "internal");
        let vars = [("HTTP_HOST", "[::1]:8000")];
        assert_eq!(request(&vars, None).host(), "[::1]:8000");
        let vars = [
            ("HTTP_HOST", "a b"),
            ("SERVER_NAME", "srv"),
            ("SERVER_PORT", "8443"),
            ("HTTPS", "on"),
        ];
        assert_eq!(request(&vars, None).host(), "srv:8443");
        let vars = [
            ("SERVER_NAME", "srv"),
            ("SERVER_PORT", "443"),
            ("HTTPS", "on"),
        ];
        assert_eq!(request(&vars, None).host(), "srv");
        assert_eq!(request(&[], None).host(), "localhost");
        for bad in ["", "a:b", "a:", "[::1", "[zz]", "[::1]x", "a:123456", "a@b"] {
            assert_eq!(valid_host(bad), None, "{bad}");
        }
        for good in ["a", "a.b:1", "[::1]", "1.2.3.4:80", "x_y"] {
            assert!(valid_host(good).is_some(), "{good}");
        }
    }

    #[test]
    fn urls_and_users() {
        let req = request(
            &[
                ("HTTP_HOST", "h"),
                ("SCRIPT_NAME", "/my app"),
                ("REQUEST_URI", "/my%20app/x?y"),
            ],
            None,
        );
        assert_eq!(req.absolute_url(""), "http://h/my%20app/");
        assert_eq!(
            req.absolute_url("/a%2Fb#frag"),
            "http://h/my%20app/a%2Fb#frag"
        );
        assert_eq!(req.absolute_url("/\"<>"), "http://h/my%20app/%22%3C%3E");
        assert_eq!(req.request_url(), "http://h/my%20app/x?y");
        assert_eq!(req.remote_user(), None);
        assert_eq!(req.auth_type(), None);
        let req = request(&[("REMOTE_USER", "")], None);
        assert_eq!(req.remote_user(), None);
    }
}
