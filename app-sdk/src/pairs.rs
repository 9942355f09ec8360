//! [`Pairs`]: named values in order, repeated names included.

use std::fmt;

/// Named values in the order they came, a name possibly repeated: what
/// query and form arguments, cookies, path parameters, the configuration and
/// media type parameters hold. They differ in how they are parsed and in
/// which value of a repeated name counts ([`get`](Pairs::get) takes the
/// first, [`get_last`](Pairs::get_last) the last), not in how they are kept.
///
/// Lookups walk the list: these lists are short, and a map would lose the
/// order and the repeats that forms and cookies have.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Pairs<V = String> {
    items: Vec<(String, V)>,
}

impl<V> Pairs<V> {
    /// No pairs.
    pub(crate) const fn new() -> Pairs<V> {
        Pairs { items: Vec::new() }
    }

    /// Appends a pair.
    pub(crate) fn push(&mut self, name: impl Into<String>, value: V) {
        self.items.push((name.into(), value));
    }

    /// The value of the first pair called `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&V> {
        self.get_all(name).next()
    }

    /// The value of the last pair called `name`.
    pub(crate) fn get_last(&self, name: &str) -> Option<&V> {
        self.get_all(name).next_back()
    }

    /// The values of every pair called `name`, in order.
    pub(crate) fn get_all<'s>(&'s self, name: &str) -> impl DoubleEndedIterator<Item = &'s V> {
        self.items
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v)
    }

    /// Whether some pair is called `name`.
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.items.iter().any(|(n, _)| n == name)
    }

    /// All pairs as `(name, value)`, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &V)> + '_ {
        self.items.iter().map(|(n, v)| (n.as_str(), v))
    }

    /// The number of pairs.
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there are no pairs.
    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

impl<V> Default for Pairs<V> {
    fn default() -> Pairs<V> {
        Pairs::new()
    }
}

impl<K: Into<String>, V> FromIterator<(K, V)> for Pairs<V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Pairs<V> {
        Pairs {
            items: iter.into_iter().map(|(k, v)| (k.into(), v)).collect(),
        }
    }
}

impl<V> Extend<(String, V)> for Pairs<V> {
    fn extend<I: IntoIterator<Item = (String, V)>>(&mut self, iter: I) {
        self.items.extend(iter);
    }
}

impl<V> IntoIterator for Pairs<V> {
    type Item = (String, V);
    type IntoIter = std::vec::IntoIter<(String, V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

/// As the list of `(name, value)` tuples it is.
impl<V: fmt::Debug> fmt::Debug for Pairs<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.items).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Pairs {
        Pairs::from_iter(
            [("a", "1"), ("b", "2"), ("a", "3"), ("", "4")].map(|(n, v)| (n, v.to_owned())),
        )
    }

    #[test]
    fn lookups_by_name() {
        let pairs = sample();
        assert_eq!(pairs.get("a").map(String::as_str), Some("1"));
        assert_eq!(pairs.get_last("a").map(String::as_str), Some("3"));
        assert_eq!(pairs.get("").map(String::as_str), Some("4"));
        assert_eq!(pairs.get("c"), None);
        assert_eq!(pairs.get_last("c"), None);
        assert_eq!(pairs.get_all("a").collect::<Vec<_>>(), ["1", "3"]);
        assert_eq!(pairs.get_all("c").count(), 0);
        assert!(pairs.contains("b"));
        assert!(!pairs.contains("B"));
    }

    #[test]
    fn order_and_repeats_are_kept() {
        let mut pairs = sample();
        assert_eq!(pairs.len(), 4);
        pairs.push("b", "5".to_owned());
        pairs.extend([("c".to_owned(), "6".to_owned())]);
        let all: Vec<_> = pairs.iter().map(|(n, v)| (n, v.as_str())).collect();
        assert_eq!(
            all,
            [
                ("a", "1"),
                ("b", "2"),
                ("a", "3"),
                ("", "4"),
                ("b", "5"),
                ("c", "6")
            ]
        );
        assert_eq!(pairs.get_last("b").map(String::as_str), Some("5"));
        let owned: Vec<_> = pairs.clone().into_iter().collect();
        assert_eq!(owned.len(), 6);
        assert_eq!(owned[4], ("b".to_owned(), "5".to_owned()));
        assert_ne!(pairs, sample());
    }

    #[test]
    fn empty_and_other_values() {
        let empty: Pairs<u32> = Pairs::default();
        assert!(empty.is_empty());
        assert_eq!(empty.get("x"), None);
        let numbers: Pairs<u32> = [("x", 1), ("y", 2), ("x", 3)].into_iter().collect();
        assert_eq!(numbers.get_all("x").sum::<u32>(), 4);
        assert_eq!(format!("{numbers:?}"), r#"[("x", 1), ("y", 2), ("x", 3)]"#);
        assert_eq!(
            format!("{:?}", sample()),
            format!("{:?}", vec![("a", "1"), ("b", "2"), ("a", "3"), ("", "4")])
        );
    }
}
