//! Lines in Apache's error_log, tagged with this module so that
//! `LogLevel rustgi:debug` applies to them.

use std::ffi::{c_char, c_int};
use std::ptr;

use apache_sys as sys;

use super::module::module_index;

const FILE: &std::ffi::CStr = c"mod_rustgi.c";
/// `%.*s`: the message is passed with its length, so it needs no NUL.
const FORMAT: &std::ffi::CStr = c"%.*s";

fn clamp(message: &str) -> (c_int, *const c_char) {
    let len = c_int::try_from(message.len()).unwrap_or(c_int::MAX);
    (len, message.as_ptr().cast())
}

/// Logs `message` for server `s` (NULL: the main server).
pub(super) fn server(s: *const sys::server_rec, level: i32, status: i32, message: &str) {
    let (len, text) = clamp(message);
    // SAFETY: ap_log_error_ accepts a NULL server; the format consumes exactly
    // an int and a pointer to len readable bytes.
    unsafe {
        sys::ap_log_error_(
            FILE.as_ptr(),
            line!() as c_int,
            module_index(),
            level,
            status,
            s,
            FORMAT.as_ptr(),
            len,
            text,
        );
    }
}

/// Logs `message` for request `r`, with its client and request ids.
///
/// # Safety
/// `r` is a live request of the calling thread.
pub(super) unsafe fn request(r: *const sys::request_rec, level: i32, status: i32, message: &str) {
    if r.is_null() {
        return server(ptr::null(), level, status, message);
    }
    let (len, text) = clamp(message);
    // SAFETY: r is live (caller); the format consumes an int and a pointer to
    // len readable bytes.
    unsafe {
        sys::ap_log_rerror_(
            FILE.as_ptr(),
            line!() as c_int,
            module_index(),
            level,
            status,
            r,
            FORMAT.as_ptr(),
            len,
            text,
        );
    }
}
