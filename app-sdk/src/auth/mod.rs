//! Authentication: cookie sessions ([`session`], feature `sessions`) and
//! HTTP Digest authentication ([`digest`], feature `digest`), both keyed by
//! the configuration's [`SECRET_KEY`]. For Basic authentication, let Apache
//! do it and read [`Request::remote_user`](crate::Request::remote_user).
//!
//! Each purpose gets its own key, derived from the one secret with
//! HMAC-SHA256, so that a value made for one (a session cookie) is never
//! accepted by another (a Digest nonce).

#[cfg(feature = "digest")]
#[cfg_attr(docsrs, doc(cfg(feature = "digest")))]
pub mod digest;
#[cfg(feature = "sessions")]
#[cfg_attr(docsrs, doc(cfg(feature = "sessions")))]
pub mod session;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The configuration key holding the secret.
pub const SECRET_KEY: &str = "secret_key";
/// The fewest bytes a secret may have.
pub const MIN_SECRET_LEN: usize = 32;

/// HMAC-SHA256(secret, label): a key for one purpose.
pub(crate) fn derive_key(secret: &[u8], label: &[u8]) -> [u8; 32] {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(label);
    mac.finalize().into_bytes().into()
}
