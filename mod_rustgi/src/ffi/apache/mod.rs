//! Safe views of Apache's structures, in the manner of ngx-rust: a
//! `#[repr(transparent)]` wrapper over each of `request_rec`, `server_rec`,
//! an APR pool and an APR table (and a handle on a request's bucket
//! brigades), made once from the raw pointer a hook
//! receives (`unsafe fn from_raw`), then used through safe accessors. The
//! module's request path is safe code on top of these.
//!
//! Strings read from Apache live in the request's (or the configuration's)
//! pool, which outlives every borrow of the wrapper they come from. Strings
//! given to Apache are copied into a pool first.

mod brigade;
mod command;
mod mpm;
mod pool;
mod request;
mod server;
mod table;

pub use brigade::{Brigade, Input};
pub use command::Command;
pub use mpm::Mpm;
pub use pool::Pool;
pub use request::Request;
pub use server::Server;
pub use table::Table;

use crate::ffi::c_bytes;

/// `ServerTokens`' banner: `Apache/2.4.62 (Debian)`.
pub fn server_banner() -> &'static [u8] {
    // SAFETY: the banner is a static string Apache sets at start-up.
    unsafe { c_bytes(apache_sys::ap_get_server_banner()) }
}
