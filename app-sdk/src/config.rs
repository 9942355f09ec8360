//! [`Config`]: the `RustgiAppConfig` pairs given to an app, with typed
//! getters, and [`ConfigError`].

use std::fmt;
use std::str::FromStr;

use crate::InitError;
use crate::pairs::Pairs;

/// Configuration pairs from `RustgiAppConfig NAME VALUE` directives.
///
/// An app sees two of them: the pairs of the virtual host it is mounted in,
/// given once to [`App::init`](crate::App::init) through
/// [`InitContext::config`](crate::InitContext::config), and the pairs in effect
/// for each request's URL, from [`Request::config`](crate::Request::config).
///
/// Names and values are kept as UTF-8 text; bytes that are not UTF-8 (Apache
/// configuration is normally UTF-8 or ASCII) are replaced with U+FFFD. The
/// pairs keep their order. When a name appears more than once, [`get`]
/// returns the last value, so a later directive overrides an earlier one.
///
/// Typed getters parse values with [`FromStr`] ([`get_parsed`],
/// [`require_parsed`], [`get_or`], [`get_bool`]) and fail with a
/// [`ConfigError`] that names the value, which converts into an
/// [`InitError`] so `?` works in [`App::init`](crate::App::init). An app
/// may also keep its settings in a TOML file named by the `config_file`
/// value ([`with_file`]), as 15Watt apps keep theirs in `config.py`.
///
/// [`get`]: Config::get
/// [`get_parsed`]: Config::get_parsed
/// [`require_parsed`]: Config::require_parsed
/// [`get_or`]: Config::get_or
/// [`get_bool`]: Config::get_bool
/// [`with_file`]: Config::with_file
///
/// ```
/// use app_sdk::Config;
///
/// let config = Config::from_iter([("greeting", "Hello"), ("greeting", "Hi"), ("db", "x")]);
/// assert_eq!(config.get("greeting"), Some("Hi"));
/// assert_eq!(config.get("missing"), None);
/// assert_eq!(config.iter().count(), 3);
///
/// let config = Config::from_iter([("workers", "8"), ("debug", "On")]);
/// assert_eq!(config.require_parsed::<u32>("workers").unwrap(), 8);
/// assert_eq!(config.get_or("timeout", 30u64).unwrap(), 30);
/// assert!(config.debug());
/// let err = config.require("database_url").unwrap_err();
/// assert_eq!(err.to_string(), "RustgiAppConfig database_url: required, but not set");
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Config {
    pairs: Pairs,
}

impl Config {
    /// An empty configuration.
    pub const fn new() -> Config {
        Config {
            pairs: Pairs::new(),
        }
    }

    /// The value of the last pair called `name`, if any.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.get_last(name).map(String::as_str)
    }

    /// Whether some pair is called `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.pairs.contains(name)
    }

    /// Every value of the pairs called `name`, in order (a TOML array in
    /// the [config file](Config::with_file) gives one pair per item).
    ///
    /// ```
    /// use app_sdk::Config;
    ///
    /// let config = Config::from_iter([("origin", "https://a.example"), ("origin", "https://b.example")]);
    /// assert_eq!(config.get_all("origin").collect::<Vec<_>>(), ["https://a.example", "https://b.example"]);
    /// ```
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs.get_all(name).map(String::as_str)
    }

    /// The value of `name`, or an error saying it is required.
    ///
    /// ```
    /// use app_sdk::Config;
    ///
    /// let config = Config::from_iter([("database_url", "postgres://localhost/shop")]);
    /// assert_eq!(config.require("database_url").unwrap(), "postgres://localhost/shop");
    /// assert!(config.require("missing").unwrap_err().is_missing());
    /// ```
    pub fn require(&self, name: &str) -> Result<&str, ConfigError> {
        self.get(name).ok_or_else(|| ConfigError::missing(name))
    }

    /// The value of `name` parsed as a `T` (surrounding whitespace ignored),
    /// `None` when it is not set.
    ///
    /// ```
    /// use app_sdk::Config;
    ///
    /// let config = Config::from_iter([("port", " 8080 "), ("ratio", "x")]);
    /// assert_eq!(config.get_parsed::<u16>("port").unwrap(), Some(8080));
    /// assert_eq!(config.get_parsed::<u16>("missing").unwrap(), None);
    /// let err = config.get_parsed::<f64>("ratio").unwrap_err();
    /// assert!(err.to_string().starts_with("RustgiAppConfig ratio: \"x\" is not a valid f64"));
    /// ```
    pub fn get_parsed<T>(&self, name: &str) -> Result<Option<T>, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        self.get(name)
            .map(|value| {
                value.trim().parse::<T>().map_err(|e| {
                    ConfigError::invalid(name, value, std::any::type_name::<T>(), &e.to_string())
                })
            })
            .transpose()
    }

    /// The value of `name` parsed as a `T`; an error when it is not set or
    /// does not parse.
    ///
    /// ```
    /// use app_sdk::Config;
    ///
    /// let config = Config::from_iter([("threads", "4")]);
    /// assert_eq!(config.require_parsed::<usize>("threads").unwrap(), 4);
    /// assert!(config.require_parsed::<usize>("missing").is_err());
    /// ```
    pub fn require_parsed<T>(&self, name: &str) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        self.get_parsed(name)?
            .ok_or_else(|| ConfigError::missing(name))
    }

    /// The value of `name` parsed as a `T`, or `default` when it is not set;
    /// an error when it does not parse.
    ///
    /// ```
    /// use app_sdk::Config;
    ///
    /// let config = Config::from_iter([("page_size", "50")]);
    /// assert_eq!(config.get_or("page_size", 20).unwrap(), 50);
    /// assert_eq!(config.get_or("max_pages", 10).unwrap(), 10);
    /// ```
    pub fn get_or<T>(&self, name: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        Ok(self.get_parsed(name)?.unwrap_or(default))
    }

    /// The value of `name` as a flag: `on`, `true`, `yes` or `1` and `off`,
    /// `false`, `no` or `0`, in any case, as Apache's own flags; `None` when
    /// it is not set.
    ///
    /// ```
    /// use app_sdk::Config;
    ///
    /// let config = Config::from_iter([("a", "On"), ("b", "false"), ("c", "maybe")]);
    /// assert_eq!(config.get_bool("a").unwrap(), Some(true));
    /// assert_eq!(config.get_bool("b").unwrap(), Some(false));
    /// assert_eq!(config.get_bool("d").unwrap(), None);
    /// assert!(config.get_bool("c").is_err());
    /// ```
    pub fn get_bool(&self, name: &str) -> Result<Option<bool>, ConfigError> {
        let Some(value) = self.get(name) else {
            return Ok(None);
        };
        match value.trim().to_ascii_lowercase().as_str() {
            "on" | "true" | "yes" | "1" => Ok(Some(true)),
            "off" | "false" | "no" | "0" => Ok(Some(false)),
            _ => Err(ConfigError::invalid(
                name,
                value,
                "flag",
                "use On or Off (or true/false, yes/no, 1/0)",
            )),
        }
    }

    /// Whether the `debug` value turns debug mode on (see
    /// [`get_bool`](Config::get_bool); a value that is not a flag counts as
    /// off).
    ///
    /// ```
    /// use app_sdk::Config;
    ///
    /// assert!(Config::from_iter([("debug", "on")]).debug());
    /// assert!(!Config::from_iter([("debug", "sure")]).debug());
    /// assert!(!Config::new().debug());
    /// ```
    pub fn debug(&self) -> bool {
        self.get_bool("debug").ok().flatten().unwrap_or(false)
    }

    /// All pairs as `(name, value)`, in order, repeated names included.
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

    /// Appends a pair.
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.pairs.push(name, value.into());
    }

    /// Builds a configuration from raw bytes, replacing bytes that are not
    /// UTF-8 with U+FFFD.
    pub(crate) fn from_raw_pairs<'a>(pairs: impl Iterator<Item = (&'a [u8], &'a [u8])>) -> Config {
        pairs
            .map(|(n, v)| {
                (
                    String::from_utf8_lossy(n).into_owned(),
                    String::from_utf8_lossy(v).into_owned(),
                )
            })
            .collect()
    }
}

/// A configuration value that is missing, does not parse, or a config file
/// that cannot be read; it converts into an [`InitError`].
///
/// ```
/// use app_sdk::{Config, InitError};
///
/// let err = Config::from_iter([("port", "http")]).require_parsed::<u16>("port").unwrap_err();
/// assert_eq!(err.name(), "port");
/// assert!(!err.is_missing());
/// let init: InitError = err.into();
/// assert!(init.message().starts_with("RustgiAppConfig port: \"http\" is not a valid u16"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    name: String,
    problem: Option<String>,
}

impl ConfigError {
    pub(crate) fn missing(name: &str) -> ConfigError {
        ConfigError {
            name: name.to_owned(),
            problem: None,
        }
    }

    pub(crate) fn invalid(name: &str, value: &str, what: &str, why: &str) -> ConfigError {
        ConfigError::new(name, format!("{value:?} is not a valid {what}: {why}"))
    }

    pub(crate) fn new(name: &str, problem: String) -> ConfigError {
        ConfigError {
            name: name.to_owned(),
            problem: Some(problem),
        }
    }

    /// The name of the value.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the value was missing (rather than invalid).
    pub fn is_missing(&self) -> bool {
        self.problem.is_none()
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.problem {
            None => write!(f, "RustgiAppConfig {}: required, but not set", self.name),
            Some(p) => write!(f, "RustgiAppConfig {}: {p}", self.name),
        }
    }
}

impl std::error::Error for ConfigError {}

impl From<ConfigError> for InitError {
    fn from(err: ConfigError) -> InitError {
        InitError::new(err.to_string())
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Config {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Config {
        Config {
            pairs: iter.into_iter().map(|(k, v)| (k, v.into())).collect(),
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_value_wins_and_order_is_kept() {
        let mut c = Config::new();
        assert!(c.is_empty());
        c.push("a", "1");
        c.push("b", "2");
        c.push("a", "3");
        assert_eq!(c.get("a"), Some("3"));
        assert_eq!(c.get("b"), Some("2"));
        assert!(c.contains("b"));
        assert!(!c.contains("c"));
        assert_eq!(c.len(), 3);
        let all: Vec<_> = c.iter().collect();
        assert_eq!(all, [("a", "1"), ("b", "2"), ("a", "3")]);
    }

    #[test]
    fn typed_getters() {
        let c = Config::from_iter([
            ("n", "12"),
            ("neg", "-3"),
            ("flag", "YES"),
            ("off", "0"),
            ("bad", "x"),
        ]);
        assert_eq!(c.get_parsed::<i32>("neg").unwrap(), Some(-3));
        assert!(c.get_parsed::<u8>("neg").is_err());
        assert_eq!(c.require_parsed::<u64>("n").unwrap(), 12);
        assert_eq!(c.get_or::<u64>("nope", 5).unwrap(), 5);
        assert!(c.get_or::<u64>("bad", 5).is_err());
        assert_eq!(c.get_bool("flag").unwrap(), Some(true));
        assert_eq!(c.get_bool("off").unwrap(), Some(false));
        let err = c.get_bool("bad").unwrap_err();
        assert_eq!(err.name(), "bad");
        assert!(err.to_string().contains("use On or Off"), "{err}");
        let err = c.require_parsed::<u8>("nope").unwrap_err();
        assert!(err.is_missing());
        assert_eq!(
            InitError::from(err).message(),
            "RustgiAppConfig nope: required, but not set"
        );
        assert_eq!(c.get_all("n").count(), 1);
        assert!(!c.debug());
    }

    #[test]
    fn raw_pairs_are_decoded_lossily() {
        let raw: [(&[u8], &[u8]); 2] = [(b"ok", b"fine"), (b"bad", b"\xffx")];
        let c = Config::from_raw_pairs(raw.into_iter());
        assert_eq!(c.get("ok"), Some("fine"));
        assert_eq!(c.get("bad"), Some("\u{fffd}x"));
        assert_eq!(
            format!("{c:?}"),
            "{\"ok\": \"fine\", \"bad\": \"\u{fffd}x\"}"
        );
    }
}
