//! A `request_rec`, for the thread that handles it.

use std::cell::UnsafeCell;
use std::ffi::{CStr, c_int};

use apache_sys as sys;

use super::{Pool, Server, Table};
use crate::config::{DirConfig, ScriptAlias};
use crate::ffi::app::AppSlot;
use crate::ffi::module::{dir_conf, rustgi_module};
use crate::ffi::{c_bytes, log};

/// A live request. Apache and other modules change it between hooks, so
/// the wrapper reads its fields when asked, through an `UnsafeCell`.
#[repr(transparent)]
pub struct Request(UnsafeCell<sys::request_rec>);

/// What translate_name found for a request, kept in its request_config for
/// the handler. Plain data in the request pool: it needs no destructor.
#[repr(C)]
struct Matched {
    alias: *const ScriptAlias<AppSlot>,
    prefix_len: usize,
}

impl Request {
    /// # Safety
    /// `r` is a live request handled by the calling thread, for all of
    /// `'a`.
    pub unsafe fn from_raw<'a>(r: *mut sys::request_rec) -> &'a Request {
        // SAFETY: a live request (caller); Request is a transparent wrapper.
        unsafe { &*r.cast::<Request>() }
    }

    pub fn as_ptr(&self) -> *mut sys::request_rec {
        self.0.get()
    }

    fn raw(&self) -> &sys::request_rec {
        // SAFETY: the request is live (from_raw); the reference is only used
        // to read a field and is dropped before the wrapper writes any.
        unsafe { &*self.as_ptr() }
    }

    fn string(&self, field: *const std::ffi::c_char) -> &[u8] {
        // SAFETY: request strings are NULL or NUL-terminated in the
        // request's (or the connection's) pool, which outlives the borrow.
        unsafe { c_bytes(field) }
    }

    pub fn server(&self) -> &Server {
        // SAFETY: a request's server_rec outlives it.
        unsafe { Server::from_raw(self.raw().server) }
    }

    pub fn pool(&self) -> &Pool {
        // SAFETY: the request's pool lives as long as the request.
        unsafe { Pool::from_raw(self.raw().pool) }
    }

    fn table(&self, table: *mut sys::apr_table_t) -> &Table {
        // SAFETY: the request's tables live in its pool.
        unsafe { Table::from_raw(table) }
    }

    pub fn headers_in(&self) -> &Table {
        self.table(self.raw().headers_in)
    }

    pub fn headers_out(&self) -> &Table {
        self.table(self.raw().headers_out)
    }

    /// Headers sent with error responses too (`Retry-After` of a 503).
    pub fn err_headers_out(&self) -> &Table {
        self.table(self.raw().err_headers_out)
    }

    pub fn notes(&self) -> &Table {
        self.table(self.raw().notes)
    }

    pub fn subprocess_env(&self) -> &Table {
        self.table(self.raw().subprocess_env)
    }

    /// The module's configuration for the request's URL.
    pub fn dir_conf(&self) -> &DirConfig {
        // SAFETY: per_dir_config is the request's live config vector.
        unsafe { dir_conf(self.raw().per_dir_config) }
    }

    pub fn uri(&self) -> &[u8] {
        self.string(self.raw().uri)
    }

    pub fn unparsed_uri(&self) -> &[u8] {
        self.string(self.raw().unparsed_uri)
    }

    pub fn args(&self) -> &[u8] {
        self.string(self.raw().args)
    }

    pub fn method(&self) -> &[u8] {
        self.string(self.raw().method)
    }

    pub fn is_get(&self) -> bool {
        self.raw().method_number == sys::M_GET as c_int
    }

    pub fn protocol(&self) -> &[u8] {
        self.string(self.raw().protocol)
    }

    pub fn handler(&self) -> &[u8] {
        self.string(self.raw().handler)
    }

    /// The authenticated user, or an empty slice.
    pub fn user(&self) -> &[u8] {
        self.string(self.raw().user)
    }

    pub fn auth_type(&self) -> &[u8] {
        self.string(self.raw().ap_auth_type)
    }

    /// The client's address (after mod_remoteip, if it runs).
    pub fn useragent_ip(&self) -> &[u8] {
        self.string(self.raw().useragent_ip)
    }

    pub fn remote_port(&self) -> u16 {
        let r = self.raw();
        // SAFETY: the connection and its client address outlive the
        // request; useragent_addr is NULL or an address in its pool.
        unsafe {
            if r.useragent_addr.is_null() {
                (*(*r.connection).client_addr).port
            } else {
                (*r.useragent_addr).port
            }
        }
    }

    /// The server's address on this connection.
    pub fn local_ip(&self) -> &[u8] {
        // SAFETY: the connection outlives the request.
        self.string(unsafe { (*self.raw().connection).local_ip })
    }

    pub fn scheme(&self) -> &[u8] {
        // SAFETY: the request is live; the result is a static string or one
        // in the request's pool.
        self.string(unsafe { sys::ap_run_http_scheme(self.as_ptr()) })
    }

    pub fn server_name(&self) -> &[u8] {
        // SAFETY: as above.
        self.string(unsafe { sys::ap_get_server_name(self.as_ptr()) })
    }

    pub fn server_port(&self) -> u16 {
        // SAFETY: the request is live.
        unsafe { sys::ap_get_server_port(self.as_ptr()) }
    }

    pub fn document_root(&self) -> &[u8] {
        // SAFETY: the request is live; the root is in the config pool.
        self.string(unsafe { sys::ap_document_root(self.as_ptr()) })
    }

    /// When the request started, in microseconds since the epoch.
    pub fn request_time_us(&self) -> u64 {
        u64::try_from(self.raw().request_time).unwrap_or(0)
    }

    /// A HEAD request: headers only.
    pub fn header_only(&self) -> bool {
        self.raw().header_only != 0
    }

    /// Hands the request to `handler`.
    pub fn set_handler(&self, handler: &'static CStr) {
        // SAFETY: this thread handles the request; no reference to it is
        // held across the write; the string is static.
        unsafe { (*self.as_ptr()).handler = handler.as_ptr() }
    }

    /// Sets r->filename to a copy of `filename` in the request's pool.
    pub fn set_filename(&self, filename: &[u8]) {
        let copy = self.pool().copy(filename).cast_mut();
        // SAFETY: as in set_handler; the copy lives in the request's pool.
        unsafe { (*self.as_ptr()).filename = copy }
    }

    /// Answers 405 unless the method is GET (or HEAD), with `Allow: GET`.
    pub fn allow_only_get(&self) -> Option<c_int> {
        if self.is_get() {
            return None;
        }
        // SAFETY: as in set_handler.
        unsafe { (*self.as_ptr()).allowed = 1 << sys::M_GET }
        Some(sys::HTTP_METHOD_NOT_ALLOWED as c_int)
    }

    pub fn set_status(&self, status: u16) {
        // SAFETY: as in set_handler.
        unsafe { (*self.as_ptr()).status = c_int::from(status) }
    }

    /// Sets the response's status; one missing from Apache's table of
    /// reason phrases (299, 418, 599...), for which Apache would answer 500,
    /// gets a status line of its own.
    pub fn set_response_status(&self, status: u16) {
        self.set_status(status);
        // SAFETY: ap_get_status_line returns a static string.
        let known = unsafe { c_bytes(sys::ap_get_status_line(c_int::from(status))) };
        if !known.starts_with(status.to_string().as_bytes()) {
            let line = self
                .pool()
                .copy(format!("{status} Unknown Reason").as_bytes());
            // SAFETY: as in set_handler; the line lives in the request's pool.
            unsafe { (*self.as_ptr()).status_line = line }
        }
    }

    /// `Content-Type`, copied into the request's pool.
    pub fn set_content_type_bytes(&self, content_type: &[u8]) {
        let copy = self.pool().copy(content_type);
        // SAFETY: the request is live; the copy lives in its pool.
        unsafe { sys::ap_set_content_type(self.as_ptr(), copy) }
    }

    pub fn set_content_length(&self, length: u64) {
        if let Ok(length) = sys::apr_off_t::try_from(length) {
            // SAFETY: the request is live.
            unsafe { sys::ap_set_content_length(self.as_ptr(), length) }
        }
    }

    /// Adds a response header, both strings copied into the request's pool.
    pub fn add_header_out(&self, name: &[u8], value: &[u8]) {
        let pool = self.pool();
        let (name, value) = (pool.copy(name), pool.copy(value));
        // SAFETY: headers_out is live; the strings live in the request's
        // pool, as apr_table_addn requires.
        unsafe { sys::apr_table_addn(self.raw().headers_out, name, value) }
    }

    /// Closes the connection after this response (one cut short must not
    /// be followed by another on the same connection).
    pub fn close_connection(&self) {
        // SAFETY: the connection outlives the request; this thread handles
        // it.
        unsafe { (*self.raw().connection).keepalive = sys::ap_conn_keepalive_e_AP_CONN_CLOSE }
    }

    /// The status for a request body that could not be read with APR
    /// status `rv` (413 for one over `LimitRequestBody`, 400...).
    pub fn body_error_status(rv: sys::apr_status_t) -> c_int {
        // SAFETY: a pure mapping of status codes.
        unsafe { sys::ap_map_http_request_error(rv, sys::HTTP_BAD_REQUEST as c_int) }
    }

    pub fn set_content_type(&self, content_type: &'static CStr) {
        // SAFETY: the request is live; the string is static.
        unsafe { sys::ap_set_content_type(self.as_ptr(), content_type.as_ptr()) }
    }

    /// Writes a whole body (nothing for HEAD), through the output filters.
    pub fn write_body(&self, body: &[u8]) {
        if self.header_only() {
            return;
        }
        let len = c_int::try_from(body.len()).unwrap_or(c_int::MAX);
        // SAFETY: the request is live; ap_rwrite copies or sends len bytes.
        unsafe { sys::ap_rwrite(body.as_ptr().cast(), len, self.as_ptr()) };
    }

    /// Logs `message` at `level` (`APLOG_*`) with the request's client and
    /// request ids.
    pub fn log(&self, level: u32, message: &str) {
        self.log_status(level, 0, message);
    }

    /// Logs `message` with the APR status `status` it is about.
    pub fn log_status(&self, level: u32, status: sys::apr_status_t, message: &str) {
        // SAFETY: the request is live and handled by this thread.
        unsafe { log::request(self.as_ptr(), level as i32, status, message) }
    }

    /// Logs `why` as an error and gives `status` to answer with: the one
    /// way the handler refuses a request.
    pub fn fail(&self, status: u32, why: &str) -> c_int {
        self.log(sys::APLOG_ERR, why);
        status as c_int
    }

    /// Notes for the handler that `alias` serves this request, its URL
    /// prefix `prefix_len` bytes long. The alias lives in the server's
    /// configuration, which outlives every request.
    pub fn set_matched(&self, alias: &ScriptAlias<AppSlot>, prefix_len: usize) {
        // SAFETY: the request's pool and request_config are live; the pool
        // memory is large enough and suitably aligned for Matched (APR
        // aligns allocations for any type), and plain data needs no drop.
        unsafe {
            let pool = self.raw().pool;
            let found = sys::apr_palloc(pool, size_of::<Matched>()).cast::<Matched>();
            found.write(Matched { alias, prefix_len });
            sys::rustgi_shim_set_module_config(
                self.raw().request_config,
                &raw const rustgi_module,
                found.cast(),
            );
        }
    }

    /// What [`set_matched`](Self::set_matched) noted, if it ran.
    pub fn matched(&self) -> Option<(&ScriptAlias<AppSlot>, usize)> {
        // SAFETY: request_config is live; this module stores only Matched
        // there (set_matched), and the alias outlives the request.
        unsafe {
            let found = sys::rustgi_shim_get_module_config(
                self.raw().request_config,
                &raw const rustgi_module,
            )
            .cast::<Matched>();
            if found.is_null() {
                return None;
            }
            Some((&*(*found).alias, (*found).prefix_len))
        }
    }
}
