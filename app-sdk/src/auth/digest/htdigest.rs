//! [`HtDigest`]: users of an `htdigest` file.

use std::fmt;
use std::io;
use std::path::Path;

use super::{Credentials, DigestAlgorithm};

/// Users of an `htdigest` file (`user:realm:HA1`, MD5), as Apache's
/// `htdigest` tool writes it.
///
/// ```
/// use app_sdk::auth::digest::{Credentials, DigestAlgorithm, HtDigest};
///
/// let file = HtDigest::parse("ann:private:f7a2bb2bb6b1cbe6e5c8ee1b0e5a1c5c\n# comment\n");
/// assert!(file.credentials("private", "ann", DigestAlgorithm::Md5).is_some());
/// // An htdigest file has no SHA-256 secrets.
/// assert!(file.credentials("private", "ann", DigestAlgorithm::Sha256).is_none());
/// assert!(file.credentials("other", "ann", DigestAlgorithm::Md5).is_none());
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct HtDigest {
    entries: Vec<(String, String, String)>,
}

impl HtDigest {
    /// Parses the text of an `htdigest` file, skipping blank lines, `#`
    /// comments and lines that are not `user:realm:HA1`.
    pub fn parse(text: &str) -> HtDigest {
        let entries = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|line| {
                let (user, rest) = line.split_once(':')?;
                let (realm, ha1) = rest.rsplit_once(':')?;
                (ha1.len() == 32 && ha1.bytes().all(|b| b.is_ascii_hexdigit()))
                    .then(|| (user.to_owned(), realm.to_owned(), ha1.to_ascii_lowercase()))
            })
            .collect();
        HtDigest { entries }
    }

    /// Reads and parses an `htdigest` file.
    ///
    /// ```no_run
    /// let users = app_sdk::auth::digest::HtDigest::open("/etc/apache2/.htdigest")?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn open(path: impl AsRef<Path>) -> io::Result<HtDigest> {
        Ok(HtDigest::parse(&std::fs::read_to_string(path)?))
    }

    /// The credentials of `user` in `realm` for `algorithm`: only the MD5
    /// ones exist.
    pub fn credentials(
        &self,
        realm: &str,
        user: &str,
        algorithm: DigestAlgorithm,
    ) -> Option<Credentials> {
        if algorithm.base() != DigestAlgorithm::Md5 {
            return None;
        }
        self.entries
            .iter()
            .find(|(u, r, _)| u == user && r == realm)
            .map(|(_, _, ha1)| Credentials::Ha1(ha1.clone()))
    }

    /// The number of users.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no users.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl fmt::Debug for HtDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HtDigest")
            .field("users", &self.entries.len())
            .finish_non_exhaustive()
    }
}
