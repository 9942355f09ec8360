//! The thin layer between Apache and the pure parts of the module.
//!
//! Rules kept throughout: every `extern "C"` function Apache calls runs its
//! body inside [`guard`], so no panic crosses into C; Rust objects handed to
//! Apache live in boxes owned by an APR pool (freed by its cleanup); strings
//! handed to Apache are copied into the request's or the config's pool.

mod apache;
mod app;
mod daemon;
mod directives;
mod handler;
mod health;
mod hooks;
mod log;
mod module;
mod python;
mod request;

use std::ffi::{CStr, c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;

use apache_sys as sys;

/// Runs `body`, turning a panic into `on_panic` and a log line: a bug in the
/// module must cost one request, not the Apache child.
fn guard<T>(what: &str, on_panic: T, body: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => value,
        Err(payload) => {
            let message = rustgi_host::panic_message(payload.as_ref());
            log::server(
                ptr::null(),
                sys::APLOG_CRIT as i32,
                0,
                &format!("mod_rustgi: internal error in {what}: {message}"),
            );
            on_panic
        }
    }
}

/// The bytes of a C string, or an empty slice for NULL.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that outlives `'a`.
unsafe fn c_bytes<'a>(p: *const c_char) -> &'a [u8] {
    if p.is_null() {
        return &[];
    }
    // SAFETY: the caller guarantees a NUL-terminated string living for 'a.
    unsafe { CStr::from_ptr(p) }.to_bytes()
}

/// A copy of `bytes` in `pool`, NUL-terminated.
///
/// # Safety
/// `pool` is a live APR pool used by this thread only.
unsafe fn pool_str(pool: *mut sys::apr_pool_t, bytes: &[u8]) -> *const c_char {
    // SAFETY: apr_pstrmemdup copies len bytes from a valid slice into the
    // pool and appends a NUL; the caller guarantees the pool.
    unsafe { sys::apr_pstrmemdup(pool, bytes.as_ptr().cast(), bytes.len()) }
}

/// Moves `value` into a box that `pool`'s cleanup drops.
///
/// # Safety
/// `pool` is a live APR pool; the returned pointer must not be used after the
/// pool is cleared or destroyed.
unsafe fn pool_box<T>(pool: *mut sys::apr_pool_t, value: T) -> *mut T {
    unsafe extern "C" fn drop_box<T>(data: *mut c_void) -> sys::apr_status_t {
        guard("a pool cleanup", (), || {
            // SAFETY: data is the pointer Box::into_raw gave below, and APR
            // runs a registered cleanup once.
            drop(unsafe { Box::from_raw(data.cast::<T>()) });
        });
        0
    }
    let raw = Box::into_raw(Box::new(value));
    // SAFETY: the pool is live (caller); the cleanup frees exactly this box.
    unsafe {
        sys::apr_pool_cleanup_register(
            pool,
            raw.cast::<c_void>(),
            Some(drop_box::<T>),
            Some(sys::apr_pool_cleanup_null),
        );
    }
    raw
}

/// The (key, value) entries of an APR table, in order.
///
/// # Safety
/// `table` is NULL or a live APR table that is not changed while the
/// returned slices are used.
unsafe fn table_entries<'a>(table: *const sys::apr_table_t) -> Vec<(&'a [u8], &'a [u8])> {
    if table.is_null() {
        return Vec::new();
    }
    // SAFETY: apr_table_elts returns the table's array header; its elts are
    // nelts apr_table_entry_t, each with NUL-terminated key and val (val may
    // be NULL, which c_bytes treats as empty).
    unsafe {
        let array = sys::rustgi_shim_table_elts(table);
        let entries = std::slice::from_raw_parts(
            (*array).elts as *const sys::apr_table_entry_t,
            usize::try_from((*array).nelts).unwrap_or(0),
        );
        entries
            .iter()
            .filter(|e| !e.key.is_null())
            .map(|e| (c_bytes(e.key), c_bytes(e.val)))
            .collect()
    }
}
