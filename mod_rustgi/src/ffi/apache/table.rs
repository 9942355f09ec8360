//! An APR table: headers, notes, the subprocess environment.

use std::cell::UnsafeCell;
use std::ffi::CStr;

use apache_sys as sys;

use crate::ffi::{c_bytes, table_entries};

/// An `apr_table_t` of a live request or server.
#[repr(transparent)]
pub struct Table(UnsafeCell<sys::apr_table_t>);

impl Table {
    /// # Safety
    /// `table` is a live APR table, used only by the calling thread, that
    /// outlives `'a`.
    pub unsafe fn from_raw<'a>(table: *mut sys::apr_table_t) -> &'a Table {
        // SAFETY: a live table (caller); Table is a transparent wrapper.
        unsafe { &*table.cast::<Table>() }
    }

    fn as_ptr(&self) -> *mut sys::apr_table_t {
        self.0.get()
    }

    /// The value of the first entry named `name` (case-insensitive), or an
    /// empty slice.
    pub fn get(&self, name: &CStr) -> &[u8] {
        // SAFETY: the table is live (from_raw); apr_table_get returns NULL
        // or a NUL-terminated string in the table's pool, which outlives
        // this borrow.
        unsafe { c_bytes(sys::apr_table_get(self.as_ptr(), name.as_ptr())) }
    }

    /// Sets `name` to `value`, both static strings (not copied).
    pub fn set_static(&self, name: &'static CStr, value: &'static CStr) {
        // SAFETY: the table is live; the strings outlive every pool.
        unsafe { sys::apr_table_setn(self.as_ptr(), name.as_ptr(), value.as_ptr()) }
    }

    /// Sets `name` to `value`, both copied into the table's pool.
    pub fn set(&self, name: &CStr, value: &CStr) {
        // SAFETY: the table is live; apr_table_set copies both strings.
        unsafe { sys::apr_table_set(self.as_ptr(), name.as_ptr(), value.as_ptr()) }
    }

    /// The (name, value) entries, in order.
    pub fn entries(&self) -> Vec<(&[u8], &[u8])> {
        // SAFETY: the table is live, and the module does not change it while
        // the returned slices are borrowed from it.
        unsafe { table_entries(self.as_ptr()) }
    }
}
