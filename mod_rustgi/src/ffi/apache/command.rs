//! The `cmd_parms` of a directive being read.

use std::cell::UnsafeCell;
use std::ffi::{CStr, c_char};

use apache_sys as sys;

use super::Pool;
use crate::ffi::c_bytes;
use crate::ffi::module::{ServerConf, server_conf_mut};

/// A directive being read: where it is, and the virtual host it
/// configures. Apache reads the configuration on one thread.
#[repr(transparent)]
pub struct Command(UnsafeCell<sys::cmd_parms>);

impl Command {
    /// # Safety
    /// `cmd` is the live cmd_parms Apache passed to a directive handler,
    /// which runs for all of `'a`.
    pub unsafe fn from_raw<'a>(cmd: *mut sys::cmd_parms) -> &'a mut Command {
        // SAFETY: a live cmd_parms (caller); Command is a transparent
        // wrapper.
        unsafe { &mut *cmd.cast::<Command>() }
    }

    fn raw(&self) -> &sys::cmd_parms {
        // SAFETY: the cmd_parms is live (from_raw); Apache does not change
        // it while the handler runs, and the wrapper never writes it.
        unsafe { &*self.0.get() }
    }

    fn pool(&self) -> &Pool {
        // SAFETY: cmd->pool is the live configuration pool.
        unsafe { Pool::from_raw(self.raw().pool) }
    }

    /// The module's configuration of the virtual host being read.
    pub fn server_conf(&mut self) -> &mut ServerConf {
        // SAFETY: cmd->server is the server being configured, whose config
        // the module made; the `&mut self` borrow keeps it the only one.
        unsafe { server_conf_mut(self.raw().server) }
    }

    /// Whether the directive is inside `<VirtualHost>`.
    pub fn in_virtual_host(&self) -> bool {
        // SAFETY: cmd->server is live.
        unsafe { (*self.raw().server).is_virtual != 0 }
    }

    /// Whether the directive is inside `<Location>`, `<Directory>` or
    /// `<Files>`.
    pub fn in_section(&self) -> bool {
        !self.raw().path.is_null()
    }

    /// "line N of FILE", as Apache words where a directive is.
    pub fn location(&self) -> String {
        let directive = self.raw().directive;
        if directive.is_null() {
            return "unknown".to_owned();
        }
        // SAFETY: during a handler cmd->directive is the directive being
        // read, with a NUL-terminated file name in the configuration pool.
        unsafe {
            format!(
                "line {} of {}",
                (*directive).line_num,
                String::from_utf8_lossy(c_bytes((*directive).filename))
            )
        }
    }

    /// `path` relative to ServerRoot unless absolute; None when Apache
    /// finds it invalid.
    pub fn server_root_relative(&self, path: &CStr) -> Option<Vec<u8>> {
        // SAFETY: the pool is live; the result is NULL or a NUL-terminated
        // string in it, copied at once.
        unsafe {
            let resolved = sys::ap_server_root_relative(self.raw().pool, path.as_ptr());
            (!resolved.is_null()).then(|| c_bytes(resolved).to_vec())
        }
    }

    /// The message a handler gives Apache for a syntax error, in the
    /// configuration pool.
    pub fn error(&self, message: &str) -> *const c_char {
        self.pool().copy(message.as_bytes())
    }
}
