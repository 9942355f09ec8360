//! [`Session`]: the data of one session.

use std::time::SystemTime;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::SessionError;

/// The data of one session: a JSON object of named values.
///
/// ```
/// use app_sdk::auth::session::Session;
///
/// let mut s = Session::new();
/// s.insert("cart", vec![3, 4]).unwrap();
/// assert_eq!(s.get::<Vec<u32>>("cart"), Some(vec![3, 4]));
/// assert_eq!(s.get::<String>("cart"), None); // not a string
/// assert!(s.is_changed());
/// s.remove("cart");
/// assert!(s.is_empty());
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Session {
    pub(super) data: Map<String, Value>,
    pub(super) changed: bool,
    pub(super) secure_request: bool,
    pub(super) expires: Option<SystemTime>,
}

impl Session {
    /// An empty session.
    pub fn new() -> Session {
        Session::default()
    }

    /// The value of `key` as a `T`; `None` when it is missing or is not a
    /// `T`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        self.data.get(key).and_then(|v| T::deserialize(v).ok())
    }

    /// The value of `key` as JSON.
    pub fn get_value(&self, key: &str) -> Option<&Value> {
        self.data.get(key)
    }

    /// Sets `key` to `value`; fails when `value` does not serialize to JSON.
    pub fn insert<T: Serialize>(
        &mut self,
        key: impl Into<String>,
        value: T,
    ) -> Result<(), SessionError> {
        let value = serde_json::to_value(value).map_err(SessionError::Serialize)?;
        self.data.insert(key.into(), value);
        self.changed = true;
        Ok(())
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let old = self.data.remove(key);
        self.changed |= old.is_some();
        old
    }

    /// Removes everything.
    pub fn clear(&mut self) {
        self.changed |= !self.data.is_empty();
        self.data.clear();
    }

    /// Whether `key` is set.
    pub fn contains(&self, key: &str) -> bool {
        self.data.contains_key(key)
    }

    /// The keys, in sorted order.
    pub fn keys(&self) -> impl Iterator<Item = &str> + '_ {
        self.data.keys().map(String::as_str)
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the session holds nothing.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Whether the data changed since the session was loaded (so that it
    /// needs saving).
    pub fn is_changed(&self) -> bool {
        self.changed
    }

    /// When the loaded cookie expires; `None` for a new session.
    pub fn expires(&self) -> Option<SystemTime> {
        self.expires
    }
}
