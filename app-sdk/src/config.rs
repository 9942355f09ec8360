//! [`Config`]: the `RustgiAppConfig` pairs given to an app.

use std::fmt;

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
/// [`get`]: Config::get
///
/// ```
/// use app_sdk::Config;
///
/// let config = Config::from_iter([("greeting", "Hello"), ("greeting", "Hi"), ("db", "x")]);
/// assert_eq!(config.get("greeting"), Some("Hi"));
/// assert_eq!(config.get("missing"), None);
/// assert_eq!(config.iter().count(), 3);
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Config {
    pairs: Vec<(String, String)>,
}

impl Config {
    /// An empty configuration.
    pub fn new() -> Config {
        Config::default()
    }

    /// The value of the last pair called `name`, if any.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether some pair is called `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.pairs.iter().any(|(n, _)| n == name)
    }

    /// All pairs as `(name, value)`, in order, repeated names included.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.pairs.iter().map(|(n, v)| (n.as_str(), v.as_str()))
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
        self.pairs.push((name.into(), value.into()));
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

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Config {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Config {
        Config {
            pairs: iter
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
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
