//! [`Args`]: query strings and `application/x-www-form-urlencoded` bodies as
//! a multi-map, with first / all / typed getters.
//!
//! Pure code: the parsers never panic, whatever the input.

use std::borrow::Cow;
use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;

use http::StatusCode;

use super::form_limits::DEFAULT_MAX_PAIRS;
use super::form_limits::FormError;
use crate::extract::FromRequestParts;
use crate::pairs::Pairs;
use crate::{HttpError, IntoResponse, Request, Response};

/// Name/value pairs from a query string or an urlencoded form, in order,
/// repeated names included.
///
/// [`get`](Args::get) gives the first value of a name,
/// [`get_all`](Args::get_all) every value, and [`get_as`](Args::get_as),
/// [`require`](Args::require) and [`get_all_as`](Args::get_all_as) parse them
/// with [`FromStr`], failing with an [`ArgError`] that answers 400.
///
/// ```
/// use app_sdk::extract::Args;
///
/// let args = Args::parse("q=caf%C3%A9+au+lait&tag=a&tag=b&page=2&flag");
/// assert_eq!(args.get("q"), Some("café au lait"));
/// assert_eq!(args.get_all("tag"), ["a", "b"]);
/// assert_eq!(args.get_as::<u32>("page").unwrap(), Some(2));
/// assert_eq!(args.get("flag"), Some(""));
/// assert!(args.get_as::<u32>("q").is_err());
/// assert_eq!(args.get_as::<u32>("missing").unwrap(), None);
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Args {
    pairs: Pairs,
    truncated: bool,
}

impl Args {
    /// No pairs.
    ///
    /// ```
    /// assert!(app_sdk::extract::Args::new().is_empty());
    /// ```
    pub fn new() -> Args {
        Args::default()
    }

    /// Parses a query string (without the `?`) the way browsers and the
    /// WHATWG URL standard do, never failing.
    ///
    /// Pairs are separated by `&`; empty pieces are skipped. A piece without
    /// `=` is a name with an empty value. `+` is a space, `%XX` a byte; a `%`
    /// not followed by two hex digits stays as it is, and bytes that do not
    /// make UTF-8 become U+FFFD. At most [`DEFAULT_MAX_PAIRS`] pairs are kept;
    /// [`is_truncated`](Args::is_truncated) tells whether some were dropped.
    /// Use [`Args::parse_strict`] to refuse such input instead.
    ///
    /// ```
    /// use app_sdk::extract::Args;
    ///
    /// let args = Args::parse("a=1&&b=%zz&c=%FF&=x");
    /// assert_eq!(args.get("a"), Some("1"));
    /// assert_eq!(args.get("b"), Some("%zz"));
    /// assert_eq!(args.get("c"), Some("\u{fffd}"));
    /// assert_eq!(args.get(""), Some("x"));
    /// assert_eq!(args.len(), 4);
    /// ```
    pub fn parse(input: &str) -> Args {
        Args::parse_bytes(input.as_bytes(), DEFAULT_MAX_PAIRS)
    }

    /// Like [`Args::parse`], on bytes, keeping at most `max_pairs` pairs.
    ///
    /// ```
    /// use app_sdk::extract::Args;
    ///
    /// let args = Args::parse_bytes(b"a=1&b=2&c=3", 2);
    /// assert_eq!(args.len(), 2);
    /// assert!(args.is_truncated());
    /// ```
    pub fn parse_bytes(input: &[u8], max_pairs: usize) -> Args {
        let mut args = Args::new();
        for piece in input.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
            if args.pairs.len() >= max_pairs {
                args.truncated = true;
                break;
            }
            let (name, value) = split_pair(piece);
            args.pairs.push(decode_lenient(name), decode_lenient(value));
        }
        args
    }

    /// Parses an urlencoded form body strictly: a `%` not followed by two
    /// hex digits, or bytes that do not make UTF-8 once decoded, fail with
    /// [`FormError::Malformed`] (400), and more than `max_pairs` pairs with
    /// [`FormError::TooManyFields`] (413).
    ///
    /// ```
    /// use app_sdk::extract::{Args, FormError};
    ///
    /// let args = Args::parse_strict(b"name=J%C3%BCrgen&x=1+2", 10).unwrap();
    /// assert_eq!(args.get("name"), Some("Jürgen"));
    /// assert_eq!(args.get("x"), Some("1 2"));
    ///
    /// let err = Args::parse_strict(b"a=%4", 10).unwrap_err();
    /// assert_eq!(err.status(), 400);
    /// let err = Args::parse_strict(b"a=1&b=2", 1).unwrap_err();
    /// assert!(matches!(err, FormError::TooManyFields { limit: 1 }));
    /// ```
    pub fn parse_strict(input: &[u8], max_pairs: usize) -> Result<Args, FormError> {
        let mut args = Args::new();
        for piece in input.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
            if args.pairs.len() >= max_pairs {
                return Err(FormError::TooManyFields { limit: max_pairs });
            }
            let (name, value) = split_pair(piece);
            args.pairs.push(decode_strict(name)?, decode_strict(value)?);
        }
        Ok(args)
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.get(name).map(String::as_str)
    }

    /// Every value of `name`, in order (empty when there is none).
    pub fn get_all(&self, name: &str) -> Vec<&str> {
        self.pairs.get_all(name).map(String::as_str).collect()
    }

    /// The first value of `name` parsed as a `T`: `Ok(None)` when there is
    /// none, an [`ArgError`] (400) when it does not parse.
    ///
    /// ```
    /// use app_sdk::extract::Args;
    ///
    /// let args = Args::parse("page=3&size=big");
    /// let page: u32 = args.get_as("page").unwrap().unwrap_or(1);
    /// assert_eq!(page, 3);
    /// let err = args.get_as::<u32>("size").unwrap_err();
    /// assert_eq!(err.name(), "size");
    /// ```
    pub fn get_as<T: FromStr>(&self, name: &str) -> Result<Option<T>, ArgError>
    where
        T::Err: fmt::Display,
    {
        self.get(name).map(|v| parse_arg(name, v)).transpose()
    }

    /// The first value of `name` parsed as a `T`, failing with an
    /// [`ArgError`] (400) when it is missing or does not parse.
    ///
    /// ```
    /// use app_sdk::extract::Args;
    ///
    /// let args = Args::parse("id=42");
    /// assert_eq!(args.require::<u64>("id").unwrap(), 42);
    /// assert_eq!(
    ///     args.require::<u64>("other").unwrap_err().to_string(),
    ///     "the argument \"other\" is missing"
    /// );
    /// ```
    pub fn require<T: FromStr>(&self, name: &str) -> Result<T, ArgError>
    where
        T::Err: fmt::Display,
    {
        self.get_as(name)?.ok_or_else(|| ArgError {
            name: name.to_owned(),
            problem: None,
        })
    }

    /// Every value of `name` parsed as a `T`, failing with an [`ArgError`]
    /// (400) if one does not parse.
    ///
    /// ```
    /// use app_sdk::extract::Args;
    ///
    /// let args = Args::parse("n=1&n=2&n=3");
    /// assert_eq!(args.get_all_as::<i32>("n").unwrap(), [1, 2, 3]);
    /// assert!(args.get_all_as::<i32>("m").unwrap().is_empty());
    /// ```
    pub fn get_all_as<T: FromStr>(&self, name: &str) -> Result<Vec<T>, ArgError>
    where
        T::Err: fmt::Display,
    {
        self.pairs
            .get_all(name)
            .map(|v| parse_arg(name, v))
            .collect()
    }

    /// Whether some pair is called `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.pairs.contains(name)
    }

    /// All pairs as `(name, value)`, in order.
    ///
    /// ```
    /// let args = app_sdk::extract::Args::parse("a=1&b=2");
    /// let pairs: Vec<_> = args.iter().collect();
    /// assert_eq!(pairs, [("a", "1"), ("b", "2")]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.pairs.iter().map(|(n, v)| (n, v.as_str()))
    }

    /// The number of pairs.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Whether [`Args::parse`] or [`Args::parse_bytes`] dropped pairs over
    /// their limit.
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// Appends a pair.
    ///
    /// ```
    /// let mut args = app_sdk::extract::Args::new();
    /// args.push("a", "1 2");
    /// assert_eq!(args.to_urlencoded(), "a=1+2");
    /// ```
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.pairs.push(name, value.into());
    }

    /// The pairs as an urlencoded string (`application/x-www-form-urlencoded`:
    /// a space becomes `+`), which [`Args::parse`] reads back.
    ///
    /// ```
    /// use app_sdk::extract::Args;
    ///
    /// let args = Args::from_iter([("q", "a&b c"), ("lang", "čeština")]);
    /// let query = args.to_urlencoded();
    /// assert_eq!(query, "q=a%26b+c&lang=%C4%8De%C5%A1tina");
    /// assert_eq!(Args::parse(&query), args);
    /// ```
    pub fn to_urlencoded(&self) -> String {
        let mut out = String::new();
        for (i, (name, value)) in self.iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            encode_into(&mut out, name);
            out.push('=');
            encode_into(&mut out, value);
        }
        out
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Args {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Args {
        Args {
            pairs: iter.into_iter().map(|(k, v)| (k, v.into())).collect(),
            truncated: false,
        }
    }
}

impl fmt::Debug for Args {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Request {
    /// The query arguments, parsed from [`query_string`](Request::query_string)
    /// with [`Args::parse`] (lenient, at most [`DEFAULT_MAX_PAIRS`] pairs).
    ///
    /// ```
    /// use app_sdk::{Config, Environ, Request, RequestBody};
    ///
    /// let env = Environ::from_iter([("QUERY_STRING", "page=2&tag=x&tag=y")]);
    /// let req = Request::new(env, Config::new(), RequestBody::empty());
    /// let args = req.args();
    /// assert_eq!(args.get_as::<u32>("page").unwrap(), Some(2));
    /// assert_eq!(args.get_all("tag"), ["x", "y"]);
    /// ```
    pub fn args(&self) -> Args {
        let raw = self.environ().get_bytes("QUERY_STRING").unwrap_or_default();
        Args::parse_bytes(raw, DEFAULT_MAX_PAIRS)
    }
}

/// A query or form argument that is missing or does not parse: answers 400.
///
/// ```
/// use app_sdk::IntoResponse;
/// use app_sdk::extract::Args;
///
/// let err = Args::parse("n=x").require::<i32>("n").unwrap_err();
/// assert_eq!(err.name(), "n");
/// assert_eq!(err.into_response().status(), 400);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgError {
    name: String,
    /// Why the value did not parse; `None` when it is missing.
    problem: Option<String>,
}

impl ArgError {
    /// An error about the argument `name`: missing when `problem` is
    /// `None`.
    pub(crate) fn new(name: &str, problem: Option<String>) -> ArgError {
        ArgError {
            name: name.to_owned(),
            problem,
        }
    }

    /// The argument's name (empty when the error is about the arguments as
    /// a whole).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the argument was missing (rather than invalid).
    pub fn is_missing(&self) -> bool {
        self.problem.is_none()
    }

    /// Always 400 Bad Request.
    pub fn status(&self) -> StatusCode {
        StatusCode::BAD_REQUEST
    }
}

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.problem {
            Some(p) if self.name.is_empty() => write!(f, "invalid arguments: {p}"),
            None => write!(f, "the argument {:?} is missing", self.name),
            Some(p) => write!(f, "the argument {:?} is invalid: {p}", self.name),
        }
    }
}

impl std::error::Error for ArgError {}

/// A 400 whose message names the argument; the error is its source.
impl From<ArgError> for HttpError {
    fn from(e: ArgError) -> HttpError {
        HttpError::new(e.status(), e.to_string()).with_source(e)
    }
}

/// The 400 page of the [`HttpError`] it converts into.
impl IntoResponse for ArgError {
    fn into_response(self) -> Response {
        HttpError::from(self).into_response()
    }
}

/// The query arguments ([`Request::args`]) as a handler argument.
///
/// ```
/// use app_sdk::Router;
/// use app_sdk::extract::Args;
///
/// let router = Router::new().get("/search", |args: Args| {
///     format!("searching for {:?}", args.get("q").unwrap_or(""))
/// });
/// # let _ = router;
/// ```
impl FromRequestParts for Args {
    type Rejection = Infallible;

    fn from_request_parts(req: &mut Request) -> Result<Args, Infallible> {
        Ok(req.args())
    }
}

fn parse_arg<T: FromStr>(name: &str, value: &str) -> Result<T, ArgError>
where
    T::Err: fmt::Display,
{
    value.parse().map_err(|e: T::Err| ArgError {
        name: name.to_owned(),
        problem: Some(e.to_string()),
    })
}

/// Splits `name=value` at the first `=`; no `=` means an empty value.
fn split_pair(piece: &[u8]) -> (&[u8], &[u8]) {
    match piece.iter().position(|&b| b == b'=') {
        Some(i) => (&piece[..i], &piece[i + 1..]),
        None => (piece, &[]),
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes `+` and `%XX`, keeping bad escapes and replacing bad UTF-8.
fn decode_lenient(input: &[u8]) -> String {
    match decode_bytes(input, false) {
        Ok(Cow::Borrowed(b)) => String::from_utf8_lossy(b).into_owned(),
        Ok(Cow::Owned(v)) => match String::from_utf8(v) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        },
        // Unreachable: the lenient decoder does not fail.
        Err(_) => String::new(),
    }
}

/// Decodes `+` and `%XX`, refusing bad escapes and bad UTF-8.
fn decode_strict(input: &[u8]) -> Result<String, FormError> {
    let bytes = decode_bytes(input, true)?;
    match bytes {
        Cow::Borrowed(b) => std::str::from_utf8(b).map(str::to_owned).ok(),
        Cow::Owned(v) => String::from_utf8(v).ok(),
    }
    .ok_or_else(|| FormError::Malformed("a form value is not UTF-8".into()))
}

/// Percent- and plus-decodes `input`; with `strict`, a bad escape fails.
pub(crate) fn decode_bytes(input: &[u8], strict: bool) -> Result<Cow<'_, [u8]>, FormError> {
    if !input.iter().any(|&b| b == b'%' || b == b'+') {
        return Ok(Cow::Borrowed(input));
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = input.get(i + 1).copied().and_then(hex_value);
                let lo = input.get(i + 2).copied().and_then(hex_value);
                if let (Some(hi), Some(lo)) = (hi, lo) {
                    out.push(hi << 4 | lo);
                    i += 3;
                    continue;
                }
                if strict {
                    return Err(FormError::Malformed(
                        "a form value holds a bad percent escape".into(),
                    ));
                }
                out.push(b'%');
            }
            b => out.push(b),
        }
        i += 1;
    }
    Ok(Cow::Owned(out))
}

/// Appends `s` urlencoded: unreserved bytes stay, a space becomes `+`, the
/// rest `%XX`.
fn encode_into(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 15)]));
            }
        }
    }
}

/// Runs every query/form decoder on `data`; used by the fuzz target and the
/// random-input test. Panics only if a round trip fails.
pub(crate) fn exercise_decoders(data: &[u8]) {
    let lenient = Args::parse_bytes(data, 64);
    assert!(lenient.len() <= 64);
    // What the lenient parser produced encodes and parses back the same.
    let again = Args::parse(&lenient.to_urlencoded());
    assert_eq!(again.pairs, lenient.pairs);
    super::query_de::exercise(&lenient);
    if let Ok(strict) = Args::parse_strict(data, 64) {
        // A strict success agrees with the lenient parser.
        assert_eq!(strict.pairs, lenient.pairs);
        for (name, _) in strict.iter() {
            let _ = strict.get_as::<i64>(name);
            let _ = strict.get_all_as::<f64>(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, Environ, RequestBody};

    #[test]
    fn lenient_parsing() {
        let args = Args::parse("a=1&b=x+y&c=%41%42&d&e=&=v&a=2&f=a=b");
        let pairs: Vec<_> = args.iter().collect();
        assert_eq!(
            pairs,
            [
                ("a", "1"),
                ("b", "x y"),
                ("c", "AB"),
                ("d", ""),
                ("e", ""),
                ("", "v"),
                ("a", "2"),
                ("f", "a=b")
            ]
        );
        assert_eq!(args.get("a"), Some("1"));
        assert_eq!(args.get_all("a"), ["1", "2"]);
        assert!(args.contains("d"));
        assert!(!args.contains("z"));
        assert!(!args.is_truncated());
    }

    #[test]
    fn bad_escapes_are_kept_or_refused() {
        for (raw, lenient, strict_ok) in [
            ("%", "%", false),
            ("%4", "%4", false),
            ("%4g", "%4g", false),
            ("%%41", "%A", false),
            ("a%2", "a%2", false),
            ("%C3%A9", "é", true),
            ("%C3", "\u{fffd}", false),
            ("%2B+", "+ ", true),
        ] {
            let input = format!("k={raw}");
            assert_eq!(Args::parse(&input).get("k"), Some(lenient), "{raw}");
            let strict = Args::parse_strict(input.as_bytes(), 10);
            assert_eq!(strict.is_ok(), strict_ok, "{raw}: {strict:?}");
        }
        let err = Args::parse_strict(b"k=\xff", 10).unwrap_err();
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn limits() {
        let many = vec!["x=1"; 1500].join("&");
        let args = Args::parse(&many);
        assert_eq!(args.len(), DEFAULT_MAX_PAIRS);
        assert!(args.is_truncated());
        let err = Args::parse_strict(many.as_bytes(), 1000).unwrap_err();
        assert_eq!(err.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(Args::parse_strict(many.as_bytes(), 1500).is_ok());
        // Empty pieces do not count.
        assert_eq!(Args::parse_bytes(b"&&&a&&", 1).len(), 1);
        assert!(!Args::parse_bytes(b"&&&a&&", 1).is_truncated());
    }

    #[test]
    fn typed_getters() {
        let args = Args::parse("n=5&n=x&f=1.5&b=true");
        assert_eq!(args.get_as::<u8>("n").unwrap(), Some(5));
        let err = args.get_all_as::<u8>("n").unwrap_err();
        assert!(!err.is_missing());
        assert!(err.to_string().contains("invalid digit"), "{err}");
        assert_eq!(args.require::<f64>("f").unwrap(), 1.5);
        assert!(args.require::<bool>("b").unwrap());
        let missing = args.require::<bool>("c").unwrap_err();
        assert!(missing.is_missing());
        let res = missing.into_response();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        let http = HttpError::of(&res).unwrap();
        assert_eq!(http.message(), "the argument \"c\" is missing");
        assert!(std::error::Error::source(http).is_some());
    }

    #[test]
    fn encoding_round_trips() {
        let args = Args::from_iter([("a b", "c+d"), ("é", "%&="), ("", "")]);
        let s = args.to_urlencoded();
        assert_eq!(s, "a+b=c%2Bd&%C3%A9=%25%26%3D&=");
        // The empty pair is dropped by the parser: "=" is a piece with an
        // empty name and value, so it is kept.
        assert_eq!(Args::parse(&s), args);
        assert_eq!(format!("{args:?}"), r#"{"a b": "c+d", "é": "%&=", "": ""}"#);
    }

    #[test]
    fn request_args_use_raw_query_bytes() {
        let env = Environ::from_iter([("QUERY_STRING", &b"a=%C3%A9&b=\xff"[..])]);
        let req = Request::new(env, Config::new(), RequestBody::empty());
        let args = req.args();
        assert_eq!(args.get("a"), Some("é"));
        assert_eq!(args.get("b"), Some("\u{fffd}"));
        let req = Request::new(Environ::new(), Config::new(), RequestBody::empty());
        assert!(req.args().is_empty());
    }

    #[test]
    fn random_inputs_never_panic() {
        let mut rng = crate::test_rng::Rng::new(0x5eed_0001);
        // 100k inputs, each parsed leniently and strictly and deserialized.
        let alphabet = b"ab=&+%0F9zC3\xff\xe9 ";
        for _ in 0..100_000 {
            let len = rng.below(24);
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    if rng.below(8) == 0 {
                        rng.byte()
                    } else {
                        alphabet[rng.below(alphabet.len())]
                    }
                })
                .collect();
            exercise_decoders(&data);
        }
    }
}
