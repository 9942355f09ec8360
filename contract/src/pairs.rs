//! Name/value byte strings in one buffer, each followed by a NUL: the shape
//! of an environ or a configuration as the ABI hands it to apps, built once
//! per request with few allocations.

use std::ops::Range;

use rustgi_abi::RustgiPair;

/// Name/value pairs stored in one buffer, each string followed by a NUL.
#[derive(Debug, Default, Clone)]
pub struct Pairs {
    buf: Vec<u8>,
    entries: Vec<(Range<usize>, Range<usize>)>,
}

impl Pairs {
    pub fn with_capacity(bytes: usize, entries: usize) -> Self {
        Self {
            buf: Vec::with_capacity(bytes),
            entries: Vec::with_capacity(entries),
        }
    }

    fn push_str(&mut self, parts: &[&[u8]]) -> Range<usize> {
        let start = self.buf.len();
        for part in parts {
            self.buf.extend_from_slice(part);
        }
        let end = self.buf.len();
        self.buf.push(0);
        start..end
    }

    /// Appends a variable (the caller ensures the name is new).
    pub fn push(&mut self, name: &[u8], value: &[u8]) {
        let name = self.push_str(&[name]);
        let value = self.push_str(&[value]);
        self.entries.push((name, value));
    }

    pub fn position(&self, name: &[u8]) -> Option<usize> {
        self.entries
            .iter()
            .position(|(n, _)| &self.buf[n.clone()] == name)
    }

    pub fn contains(&self, name: &[u8]) -> bool {
        self.position(name).is_some()
    }

    pub fn get(&self, name: &[u8]) -> Option<&[u8]> {
        self.position(name)
            .map(|i| &self.buf[self.entries[i].1.clone()])
    }

    /// Appends `value` to the value at `index`, after `separator`.
    pub fn append_to(&mut self, index: usize, separator: &[u8], value: &[u8]) {
        let (name, old) = self.entries[index].clone();
        let name = self.buf[name].to_vec();
        let old = self.buf[old].to_vec();
        // The old strings stay in the buffer unused: repeated headers are rare.
        let name = self.push_str(&[&name]);
        let value = self.push_str(&[&old, separator, value]);
        self.entries[index] = (name, value);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Removes every pair, keeping the buffers for the next use.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.entries.clear();
    }

    /// The bytes the buffer holds without growing.
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The variables in order. Each slice is followed in memory by a NUL
    /// byte that it does not include.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.entries
            .iter()
            .map(|(n, v)| (&self.buf[n.clone()], &self.buf[v.clone()]))
    }
}

impl Pairs {
    /// ABI views of the pairs; valid while `self` is neither changed nor
    /// dropped.
    pub fn abi_pairs(&self) -> Vec<RustgiPair> {
        self.iter()
            .map(|(n, v)| RustgiPair::from_bytes(n, v))
            .collect()
    }
}

impl<N: AsRef<[u8]>, V: AsRef<[u8]>> FromIterator<(N, V)> for Pairs {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        let mut pairs = Pairs::default();
        for (name, value) in iter {
            pairs.push(name.as_ref(), value.as_ref());
        }
        pairs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_string_is_followed_by_a_nul() {
        let mut pairs: Pairs = [("A", "1"), ("B", "")].into_iter().collect();
        let i = pairs.position(b"A").unwrap();
        pairs.append_to(i, b", ", b"2");
        assert_eq!(pairs.get(b"A"), Some(&b"1, 2"[..]));
        assert_eq!(pairs.len(), 2);
        for (name, value) in pairs.iter() {
            for s in [name, value] {
                let end = s.as_ptr_range().end;
                let start = pairs.buf.as_ptr();
                let offset = end as usize - start as usize;
                assert_eq!(pairs.buf[offset], 0, "{s:?}");
            }
        }
        let abi = pairs.abi_pairs();
        assert_eq!(abi.len(), 2);
        // SAFETY: the views point into `pairs`, which is alive and unchanged.
        assert_eq!(unsafe { abi[0].value.as_bytes() }, b"1, 2");
    }
}
