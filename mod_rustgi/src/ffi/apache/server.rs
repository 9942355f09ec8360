//! A virtual host's `server_rec`.

use apache_sys as sys;

use crate::config::DirConfig;
use crate::ffi::c_bytes;
use crate::ffi::log;
use crate::ffi::module::{ServerConf, dir_conf, server_conf};

/// A `server_rec`, read-only: Apache does not change it after start-up.
#[repr(transparent)]
pub struct Server(sys::server_rec);

impl Server {
    /// # Safety
    /// `s` is a live server_rec (Apache keeps them for the configuration's
    /// life) that outlives `'a`.
    pub unsafe fn from_raw<'a>(s: *const sys::server_rec) -> &'a Server {
        // SAFETY: a live server_rec (caller); Server is a transparent
        // wrapper.
        unsafe { &*s.cast::<Server>() }
    }

    pub fn as_ptr(&self) -> *const sys::server_rec {
        &raw const self.0
    }

    /// `ServerName`.
    pub fn hostname(&self) -> &[u8] {
        // SAFETY: NULL or a NUL-terminated string of the configuration pool.
        unsafe { c_bytes(self.0.server_hostname) }
    }

    /// The module's configuration of this virtual host.
    pub fn conf(&self) -> &ServerConf {
        // SAFETY: the server_rec is live, and the module made its config.
        unsafe { server_conf(self.as_ptr()) }
    }

    /// The module's directory configuration of this virtual host outside
    /// any section: what `init` of an app sees.
    pub fn default_dir_conf(&self) -> &DirConfig {
        // SAFETY: lookup_defaults is the server's live config vector.
        unsafe { dir_conf(self.0.lookup_defaults) }
    }

    /// Logs `message` at `level` (`APLOG_*`) for this server.
    pub fn log(&self, level: u32, message: &str) {
        log::server(self.as_ptr(), level as i32, 0, message);
    }
}
