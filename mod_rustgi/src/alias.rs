//! URL-PATH prefixes of `RustgiScriptAlias`, matched at segment boundaries.

/// A URL-PATH as written in `RustgiScriptAlias`, stored without its trailing
/// slashes: it is the SCRIPT_NAME of the requests it matches (`""` for `/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlPrefix(String);

impl UrlPrefix {
    /// Parses a URL-PATH: absolute, without `?`, `#` or control characters.
    pub fn parse(url: &str) -> Result<Self, String> {
        if !url.starts_with('/') {
            return Err(format!("URL-PATH '{url}' must start with '/'"));
        }
        if let Some(c) = url
            .chars()
            .find(|c| matches!(c, '?' | '#') || c.is_control())
        {
            return Err(format!("URL-PATH '{url}' must not contain {c:?}"));
        }
        Ok(Self(url.trim_end_matches('/').to_owned()))
    }

    /// The prefix as SCRIPT_NAME.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number of bytes of `uri` (a decoded request path) this prefix
    /// covers, when it matches: the whole path or a leading run of whole
    /// segments, so `/app` matches `/app` and `/app/x` but not `/apple`.
    pub fn matches(&self, uri: &[u8]) -> Option<usize> {
        let prefix = self.0.as_bytes();
        let rest = uri.strip_prefix(prefix)?;
        (rest.is_empty() || rest[0] == b'/').then_some(prefix.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_slashes_are_dropped() {
        assert_eq!(UrlPrefix::parse("/").unwrap().as_str(), "");
        assert_eq!(UrlPrefix::parse("/app/").unwrap().as_str(), "/app");
        assert_eq!(UrlPrefix::parse("/a/b").unwrap().as_str(), "/a/b");
    }

    #[test]
    fn bad_prefixes_are_refused() {
        assert!(UrlPrefix::parse("app").is_err());
        assert!(UrlPrefix::parse("").is_err());
        assert!(UrlPrefix::parse("/a?b").is_err());
        assert!(UrlPrefix::parse("/a\nb").is_err());
    }

    #[test]
    fn matches_whole_segments_only() {
        let app = UrlPrefix::parse("/app").unwrap();
        assert_eq!(app.matches(b"/app"), Some(4));
        assert_eq!(app.matches(b"/app/"), Some(4));
        assert_eq!(app.matches(b"/app/x/y"), Some(4));
        assert_eq!(app.matches(b"/apple"), None);
        assert_eq!(app.matches(b"/ap"), None);
        assert_eq!(app.matches(b"/"), None);
        let root = UrlPrefix::parse("/").unwrap();
        assert_eq!(root.matches(b"/"), Some(0));
        assert_eq!(root.matches(b"/anything"), Some(0));
    }
}
