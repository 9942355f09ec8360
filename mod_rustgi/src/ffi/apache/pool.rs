//! An APR pool.

use std::ffi::{CStr, c_char};
use std::path::PathBuf;

use apache_sys as sys;

use crate::ffi::{c_bytes, pool_str};

/// An `apr_pool_t`, live for as long as the borrow.
#[repr(transparent)]
pub struct Pool(sys::apr_pool_t);

impl Pool {
    /// # Safety
    /// `pool` is a live APR pool, used only by the calling thread, that
    /// outlives `'a`.
    pub unsafe fn from_raw<'a>(pool: *mut sys::apr_pool_t) -> &'a Pool {
        // SAFETY: a live pool (caller); Pool is a transparent wrapper.
        unsafe { &*pool.cast::<Pool>() }
    }

    pub fn as_ptr(&self) -> *mut sys::apr_pool_t {
        (&raw const self.0).cast_mut()
    }

    /// A NUL-terminated copy of `bytes` in the pool, for Apache to keep.
    pub fn copy(&self, bytes: &[u8]) -> *const c_char {
        // SAFETY: the pool is live and this thread's (from_raw).
        unsafe { pool_str(self.as_ptr(), bytes) }
    }

    /// `name` in Apache's runtime directory (`DefaultRuntimeDir`).
    pub fn runtime_dir_relative(&self, name: &CStr) -> PathBuf {
        // SAFETY: the pool is live; the result is NULL or a NUL-terminated
        // string in it, copied at once.
        let path = unsafe { c_bytes(sys::ap_runtime_dir_relative(self.as_ptr(), name.as_ptr())) };
        PathBuf::from(String::from_utf8_lossy(path).into_owned())
    }
}
