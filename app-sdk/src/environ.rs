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
    /// Every name and value, one after the other: a request's environ is
    /// two allocations, not two per variable.
    bytes: Vec<u8>,
    /// Where each variable's name and value end in `bytes`; the name starts
    /// where the previous value ended.
    ends: Vec<(usize, usize)>,
}

/// The average length of a name and its value, to size `bytes` up front.
const TYPICAL_VAR: usize = 40;

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
        self.iter()
            .find(|(n, _)| *n == name.as_bytes())
            .map(|(_, v)| v)
    }

    /// Whether the variable `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get_bytes(name).is_some()
    }

    /// All variables as `(name, value)` bytes, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        let mut start = 0;
        self.ends.iter().map(move |&(name_end, value_end)| {
            let var = (
                &self.bytes[start..name_end],
                &self.bytes[name_end..value_end],
            );
            start = value_end;
            var
        })
    }

    /// The number of variables.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are no variables.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Appends a variable.
    pub fn push(&mut self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) {
        self.bytes.extend_from_slice(name.as_ref());
        let name_end = self.bytes.len();
        self.bytes.extend_from_slice(value.as_ref());
        self.ends.push((name_end, self.bytes.len()));
    }
}

impl<K: AsRef<[u8]>, V: AsRef<[u8]>> FromIterator<(K, V)> for Environ {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Environ {
        let iter = iter.into_iter();
        let expected = iter.size_hint().0;
        let mut env = Environ {
            bytes: Vec::with_capacity(expected * TYPICAL_VAR),
            ends: Vec::with_capacity(expected),
        };
        for (name, value) in iter {
            env.push(name, value);
        }
        env
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
        env.push(b"B", b"\xff");
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

    #[test]
    fn empty_names_and_values_keep_their_places() {
        let env = Environ::from_iter([("", "x"), ("Y", ""), ("", "")]);
        let vars: Vec<_> = env.iter().collect();
        assert_eq!(
            vars,
            [
                (&b""[..], &b"x"[..]),
                (&b"Y"[..], &b""[..]),
                (&b""[..], &b""[..])
            ]
        );
        assert_eq!(env.get("Y"), Some(""));
        // Built either way, the same variables are equal.
        let mut pushed = Environ::new();
        for (name, value) in env.iter() {
            pushed.push(name, value);
        }
        assert_eq!(pushed, env);
        assert_eq!(pushed.clone(), env);
        assert_ne!(
            Environ::from_iter([("AB", "")]),
            Environ::from_iter([("A", "B")])
        );
    }
}
