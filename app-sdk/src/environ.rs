//! [`Environ`]: the CGI/WSGI variables of a request.

use std::fmt;

/// The CGI/WSGI variables the host computed for a request (`REQUEST_METHOD`,
/// `PATH_INFO`, `HTTP_*`, ...; `docs/abi.md` lists them), in the host's order.
///
/// Names and values are bytes: `PATH_INFO` is percent-decoded and may hold
/// any byte, and header values may hold bytes that are not UTF-8. [`get`]
/// returns text when the value is UTF-8; [`get_bytes`] always works.
///
/// [`get`]: Environ::get
/// [`get_bytes`]: Environ::get_bytes
///
/// ```
/// use app_sdk::Environ;
///
/// let env = Environ::from_iter([("REQUEST_METHOD", "GET"), ("PATH_INFO", "/caf\u{e9}")]);
/// assert_eq!(env.get("REQUEST_METHOD"), Some("GET"));
/// assert_eq!(env.get_bytes("PATH_INFO"), Some("/café".as_bytes()));
/// assert_eq!(env.get("QUERY_STRING"), None);
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Environ {
    vars: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Environ {
    /// An empty environ.
    pub fn new() -> Environ {
        Environ::default()
    }

    /// The value of the variable `name` as text, or `None` when it is absent
    /// or not UTF-8. If `name` appears more than once, the first one counts.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.get_bytes(name)
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The value of the variable `name` as bytes, or `None` when it is absent.
    pub fn get_bytes(&self, name: &str) -> Option<&[u8]> {
        self.vars
            .iter()
            .find(|(n, _)| n == name.as_bytes())
            .map(|(_, v)| v.as_slice())
    }

    /// Whether the variable `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get_bytes(name).is_some()
    }

    /// All variables as `(name, value)` bytes, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.vars.iter().map(|(n, v)| (n.as_slice(), v.as_slice()))
    }

    /// The number of variables.
    pub fn len(&self) -> usize {
        self.vars.len()
    }

    /// Whether there are no variables.
    pub fn is_empty(&self) -> bool {
        self.vars.is_empty()
    }

    /// Appends a variable.
    pub fn push(&mut self, name: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.vars.push((name.into(), value.into()));
    }
}

impl<K: Into<Vec<u8>>, V: Into<Vec<u8>>> FromIterator<(K, V)> for Environ {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Environ {
        Environ {
            vars: iter
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }
}

impl fmt::Debug for Environ {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                self.iter()
                    .map(|(n, v)| (String::from_utf8_lossy(n), String::from_utf8_lossy(v))),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_text_and_bytes() {
        let mut env = Environ::new();
        assert!(env.is_empty());
        env.push("A", "1");
        env.push(b"B".to_vec(), b"\xff".to_vec());
        env.push("A", "2");
        assert_eq!(env.get("A"), Some("1"));
        assert_eq!(env.get("B"), None);
        assert_eq!(env.get_bytes("B"), Some(&b"\xff"[..]));
        assert!(env.contains("B"));
        assert!(!env.contains("C"));
        assert_eq!(env.len(), 3);
        let names: Vec<_> = env.iter().map(|(n, _)| n).collect();
        assert_eq!(names, [b"A", b"B", b"A"]);
        assert_eq!(
            format!("{env:?}"),
            "{\"A\": \"1\", \"B\": \"\u{fffd}\", \"A\": \"2\"}"
        );
    }
}
