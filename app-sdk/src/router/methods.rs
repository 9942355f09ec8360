//! [`MethodSet`]: the methods a route answers.

use std::fmt;
use std::ops::{BitOr, BitOrAssign};

use http::Method;

/// The standard methods, in the order `Allow` headers list them.
const STANDARD: [Method; 9] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::CONNECT,
    Method::OPTIONS,
    Method::TRACE,
    Method::PATCH,
];

/// A set of HTTP methods, as a route takes them: `MethodSet::GET |
/// MethodSet::POST`, or any [`Method`] (extension methods such as WebDAV's
/// `PROPFIND` included).
///
/// A route for `GET` also answers `HEAD` (unless another route of the same
/// path takes `HEAD` itself), and the router answers `OPTIONS` for every path
/// it knows, so neither needs to be listed.
///
/// ```
/// use app_sdk::http::Method;
/// use app_sdk::router::MethodSet;
///
/// let set = MethodSet::GET | MethodSet::POST | Method::from_bytes(b"PROPFIND").unwrap();
/// assert!(set.contains(&Method::POST));
/// assert!(!set.contains(&Method::PUT));
/// assert_eq!(set.to_string(), "GET, POST, PROPFIND");
/// assert_eq!(MethodSet::from(Method::DELETE), MethodSet::DELETE);
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct MethodSet {
    bits: u16,
    extensions: Vec<Method>,
}

impl MethodSet {
    /// No method.
    pub const EMPTY: MethodSet = MethodSet::bit(0);
    /// `GET`.
    pub const GET: MethodSet = MethodSet::bit(1 << 0);
    /// `HEAD`.
    pub const HEAD: MethodSet = MethodSet::bit(1 << 1);
    /// `POST`.
    pub const POST: MethodSet = MethodSet::bit(1 << 2);
    /// `PUT`.
    pub const PUT: MethodSet = MethodSet::bit(1 << 3);
    /// `DELETE`.
    pub const DELETE: MethodSet = MethodSet::bit(1 << 4);
    /// `CONNECT`.
    pub const CONNECT: MethodSet = MethodSet::bit(1 << 5);
    /// `OPTIONS`.
    pub const OPTIONS: MethodSet = MethodSet::bit(1 << 6);
    /// `TRACE`.
    pub const TRACE: MethodSet = MethodSet::bit(1 << 7);
    /// `PATCH`.
    pub const PATCH: MethodSet = MethodSet::bit(1 << 8);
    /// Every standard method (not extension methods).
    pub const ANY: MethodSet = MethodSet::bit((1 << 9) - 1);

    const fn bit(bits: u16) -> MethodSet {
        MethodSet {
            bits,
            extensions: Vec::new(),
        }
    }

    fn index(method: &Method) -> Option<usize> {
        STANDARD.iter().position(|m| m == method)
    }

    /// Whether `method` is in the set.
    ///
    /// ```
    /// use app_sdk::http::Method;
    /// use app_sdk::router::MethodSet;
    ///
    /// assert!((MethodSet::GET | MethodSet::POST).contains(&Method::POST));
    /// ```
    pub fn contains(&self, method: &Method) -> bool {
        match MethodSet::index(method) {
            Some(i) => self.bits & (1 << i) != 0,
            None => self.extensions.contains(method),
        }
    }

    /// Adds `method`.
    ///
    /// ```
    /// use app_sdk::http::Method;
    /// use app_sdk::router::MethodSet;
    ///
    /// let mut set = MethodSet::GET;
    /// set.insert(Method::PUT);
    /// assert_eq!(set, MethodSet::GET | MethodSet::PUT);
    /// ```
    pub fn insert(&mut self, method: Method) {
        match MethodSet::index(&method) {
            Some(i) => self.bits |= 1 << i,
            None if !self.extensions.contains(&method) => self.extensions.push(method),
            None => {}
        }
    }

    /// Whether the set has no method.
    ///
    /// ```
    /// assert!(app_sdk::router::MethodSet::EMPTY.is_empty());
    /// assert!(!app_sdk::router::MethodSet::ANY.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.bits == 0 && self.extensions.is_empty()
    }

    /// The methods, standard ones first in a fixed order, then extension
    /// methods in the order they were added.
    ///
    /// ```
    /// use app_sdk::router::MethodSet;
    ///
    /// let set = MethodSet::PATCH | MethodSet::GET;
    /// let names: Vec<_> = set.iter().map(|m| m.as_str()).collect();
    /// assert_eq!(names, ["GET", "PATCH"]);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = &Method> + '_ {
        STANDARD
            .iter()
            .enumerate()
            .filter(|(i, _)| self.bits & (1 << i) != 0)
            .map(|(_, m)| m)
            .chain(&self.extensions)
    }
}

impl From<Method> for MethodSet {
    fn from(method: Method) -> MethodSet {
        let mut set = MethodSet::EMPTY;
        set.insert(method);
        set
    }
}

impl From<&Method> for MethodSet {
    fn from(method: &Method) -> MethodSet {
        MethodSet::from(method.clone())
    }
}

impl FromIterator<Method> for MethodSet {
    fn from_iter<I: IntoIterator<Item = Method>>(iter: I) -> MethodSet {
        let mut set = MethodSet::EMPTY;
        for m in iter {
            set.insert(m);
        }
        set
    }
}

impl<T: Into<MethodSet>> BitOr<T> for MethodSet {
    type Output = MethodSet;

    fn bitor(mut self, rhs: T) -> MethodSet {
        self |= rhs;
        self
    }
}

impl<T: Into<MethodSet>> BitOrAssign<T> for MethodSet {
    fn bitor_assign(&mut self, rhs: T) {
        let rhs = rhs.into();
        self.bits |= rhs.bits;
        for m in rhs.extensions {
            self.insert(m);
        }
    }
}

/// The methods separated by `", "`, as in an `Allow` header.
impl fmt::Display for MethodSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, m) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(m.as_str())?;
        }
        Ok(())
    }
}

impl fmt::Debug for MethodSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MethodSet({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_combine_and_list_in_order() {
        let set = MethodSet::PATCH | MethodSet::GET | Method::POST;
        assert_eq!(set.to_string(), "GET, POST, PATCH");
        assert!(set.contains(&Method::GET));
        assert!(!set.contains(&Method::HEAD));
        let mut any = MethodSet::ANY;
        assert!(STANDARD.iter().all(|m| any.contains(m)));
        let propfind = Method::from_bytes(b"PROPFIND").unwrap();
        assert!(!any.contains(&propfind));
        any.insert(propfind.clone());
        any.insert(propfind.clone());
        assert!(any.contains(&propfind));
        assert_eq!(any.iter().count(), 10);
        assert!(MethodSet::EMPTY.is_empty());
        assert!(!MethodSet::HEAD.is_empty());
        assert_eq!(format!("{:?}", MethodSet::PUT), "MethodSet(PUT)");
        let collected: MethodSet = [Method::DELETE, Method::TRACE].into_iter().collect();
        assert_eq!(collected, MethodSet::DELETE | MethodSet::TRACE);
        assert_eq!(MethodSet::from(&Method::CONNECT), MethodSet::CONNECT);
        let mut ext = MethodSet::from(propfind.clone());
        ext |= MethodSet::from(propfind);
        assert_eq!(ext.iter().count(), 1);
    }
}
