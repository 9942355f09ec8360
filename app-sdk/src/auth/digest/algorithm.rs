//! [`DigestAlgorithm`] and the [`Credentials`] a user is checked against.

use std::fmt;

use md5::Md5;
use sha2::{Digest as _, Sha256};

use super::DigestError;

/// A Digest hash algorithm.
///
/// ```
/// use app_sdk::auth::digest::DigestAlgorithm;
///
/// assert_eq!("sha-256".parse::<DigestAlgorithm>().unwrap(), DigestAlgorithm::Sha256);
/// assert_eq!(DigestAlgorithm::Md5Sess.to_string(), "MD5-sess");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DigestAlgorithm {
    /// `MD5`, what `htdigest` files hold and every client speaks.
    Md5,
    /// `MD5-sess`.
    Md5Sess,
    /// `SHA-256`.
    Sha256,
    /// `SHA-256-sess`.
    Sha256Sess,
}

impl DigestAlgorithm {
    fn name(self) -> &'static str {
        match self {
            DigestAlgorithm::Md5 => "MD5",
            DigestAlgorithm::Md5Sess => "MD5-sess",
            DigestAlgorithm::Sha256 => "SHA-256",
            DigestAlgorithm::Sha256Sess => "SHA-256-sess",
        }
    }

    pub(super) fn is_sess(self) -> bool {
        matches!(self, DigestAlgorithm::Md5Sess | DigestAlgorithm::Sha256Sess)
    }

    /// The same hash without `-sess`: the one an `HA1` is computed with.
    pub fn base(self) -> DigestAlgorithm {
        match self {
            DigestAlgorithm::Md5 | DigestAlgorithm::Md5Sess => DigestAlgorithm::Md5,
            DigestAlgorithm::Sha256 | DigestAlgorithm::Sha256Sess => DigestAlgorithm::Sha256,
        }
    }

    /// The lowercase hex hash of `data`.
    pub(super) fn hash(self, data: &str) -> String {
        match self.base() {
            DigestAlgorithm::Md5 => hex(&Md5::digest(data.as_bytes())),
            _ => hex(&Sha256::digest(data.as_bytes())),
        }
    }

    /// `HA1` for a user's password: `H(user:realm:password)`, what an
    /// `htdigest` file stores (for MD5).
    ///
    /// ```
    /// use app_sdk::auth::digest::DigestAlgorithm;
    ///
    /// assert_eq!(
    ///     DigestAlgorithm::Md5.ha1("Mufasa", "testrealm@host.com", "Circle Of Life"),
    ///     "939e7578ed9e3c518a452acee763bce9"
    /// );
    /// ```
    pub fn ha1(self, user: &str, realm: &str, password: &str) -> String {
        self.hash(&format!("{user}:{realm}:{password}"))
    }
}

impl fmt::Display for DigestAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for DigestAlgorithm {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<DigestAlgorithm, DigestError> {
        [
            DigestAlgorithm::Md5,
            DigestAlgorithm::Md5Sess,
            DigestAlgorithm::Sha256,
            DigestAlgorithm::Sha256Sess,
        ]
        .into_iter()
        .find(|a| a.name().eq_ignore_ascii_case(s.trim()))
        .ok_or_else(|| DigestError::Algorithm(s.to_owned()))
    }
}

fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
    out
}

/// What the app knows of a user's secret.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// The password itself.
    Password(String),
    /// `HA1`, `H(user:realm:password)` in hex, computed with the
    /// [base](DigestAlgorithm::base) of the algorithm asked for (an
    /// `htdigest` file holds MD5 ones).
    Ha1(String),
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Credentials::Password(_) => "Credentials::Password(<secret>)",
            Credentials::Ha1(_) => "Credentials::Ha1(<secret>)",
        })
    }
}
