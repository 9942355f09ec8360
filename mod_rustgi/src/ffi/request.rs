//! The host side of the ABI for one request: the callbacks an app makes
//! (read_body, start_response, write, flush, send_file, log) on top of
//! Apache's filters.
//!
//! The app's status and headers are checked when it gives them and applied to
//! the request_rec when its body starts, so they can be replaced until then.
//! Writes go through a brigade that coalesces small writes; flush pushes
//! everything down the output filters (mod_deflate, mod_headers, ...); a file
//! goes down them as a file bucket, read by Apache itself.

use std::ffi::{c_char, c_int, c_void};
use std::io::{self, IoSlice};
use std::os::fd::{BorrowedFd, IntoRawFd, OwnedFd};
use std::thread::{self, ThreadId};

use apache_sys as sys;
use rustgi_abi::{self as abi, RustgiHostApi, RustgiPair};
use rustgi_host::passed_fds;
use rustgi_host::protocol::FileRange;

use super::{c_bytes, guard, log, pool_str};
use rustgi_host::response_head::{self, HeaderKind};

/// The services the host offers to apps.
pub static HOST_API: RustgiHostApi = RustgiHostApi {
    struct_size: size_of::<RustgiHostApi>() as u32,
    abi_version: abi::ABI_VERSION,
    read_body,
    start_response,
    write,
    flush,
    log: log_message,
    send_file: Some(send_file),
};

/// The `ctx` an app passes back to the callbacks: a server (during init) or
/// a request.
pub struct HostCtx {
    server: *const sys::server_rec,
    request: Option<RequestState>,
}

impl HostCtx {
    pub fn for_server(server: *const sys::server_rec) -> Self {
        Self {
            server,
            request: None,
        }
    }

    /// # Safety
    /// `r` is the live request the calling thread is handling; it outlives
    /// the context.
    pub unsafe fn for_request(r: *mut sys::request_rec, label: String) -> Self {
        Self {
            // SAFETY: r is live (caller).
            server: unsafe { (*r).server },
            // SAFETY: as above.
            request: Some(unsafe { RequestState::new(r, label) }),
        }
    }

    /// Ends the request after the app's handle returned `rc`; the result is
    /// the handler's return value for Apache.
    pub fn finish(&mut self, rc: i32) -> c_int {
        match self.request.as_mut() {
            Some(state) => state.finish(rc),
            None => sys::HTTP_INTERNAL_SERVER_ERROR as c_int,
        }
    }
}

struct Head {
    status: u16,
    headers: Vec<(Vec<u8>, Vec<u8>, HeaderKind)>,
}

/// A request's response in the making, driven by an embedded app through
/// the ABI callbacks or by a daemon's frames.
pub struct RequestState {
    r: *mut sys::request_rec,
    /// Who answers, for log lines ("app /srv/a.so", "group shop, pid 12").
    label: String,
    thread: ThreadId,
    /// Status and headers given by the app, not yet applied.
    head: Option<Head>,
    /// Created when the body starts.
    output: *mut sys::apr_bucket_brigade,
    input: *mut sys::apr_bucket_brigade,
    /// Body read for the daemon and not sent yet (see `gather_body`).
    gathered: *mut sys::apr_bucket_brigade,
    body_started: bool,
    /// The app gave a head that was refused, or wrote without one: the
    /// response is a 500 (or cut short if it had started).
    refused: bool,
    /// Reading the request body failed with this status; it decides the
    /// response.
    body_error: Option<c_int>,
    input_done: bool,
    client_gone: bool,
}

const ERROR: i32 = abi::ERROR;
const OK: i32 = abi::OK;

impl RequestState {
    /// # Safety
    /// `r` is the live request the calling thread is handling.
    pub unsafe fn new(r: *mut sys::request_rec, label: String) -> Self {
        RequestState {
            r,
            label,
            thread: thread::current().id(),
            head: None,
            output: std::ptr::null_mut(),
            input: std::ptr::null_mut(),
            gathered: std::ptr::null_mut(),
            body_started: false,
            refused: false,
            body_error: None,
            input_done: false,
            client_gone: false,
        }
    }

    /// The request this state answers.
    pub fn request(&self) -> *mut sys::request_rec {
        self.r
    }

    pub fn set_label(&mut self, label: String) {
        self.label = label;
    }

    pub fn client_gone(&self) -> bool {
        self.client_gone
    }

    /// The status reading the request body failed with, if it did.
    pub fn body_error(&self) -> Option<c_int> {
        self.body_error
    }

    /// Ends the request with `status` when the response has not started, or
    /// cuts the started response short; logs `why` either way.
    pub fn fail(&mut self, status: c_int, why: &str) -> c_int {
        self.log(sys::APLOG_ERR, &format!("{}: {why}", self.label));
        if self.body_started {
            self.end_output(false);
            sys::OK as c_int
        } else {
            status
        }
    }

    pub(super) fn log(&self, level: u32, message: &str) {
        // SAFETY: r is the live request of this thread (checked by callers
        // through `on_own_thread` or by running in the handler itself).
        unsafe { log::request(self.r, level as i32, 0, message) }
    }

    /// The request callbacks may only run on the thread that runs handle:
    /// APR pools and filters are not thread-safe.
    fn on_own_thread(&self) -> bool {
        thread::current().id() == self.thread
    }

    fn refuse(&mut self, why: &str) -> i32 {
        self.refused = true;
        self.log(
            sys::APLOG_ERR,
            &format!("{}: response refused: {why}", self.label),
        );
        ERROR
    }

    /// A `send_file` that cannot be served: logged, and the app may go on
    /// (with `write`, say) since nothing was sent.
    fn refuse_file(&self, why: &str) -> i32 {
        self.log(
            sys::APLOG_ERR,
            &format!("{}: send_file refused: {why}", self.label),
        );
        ERROR
    }

    pub fn read_body(&mut self, buf: &mut [u8]) -> isize {
        self.read_input(buf, true).unwrap_or(0)
    }

    /// One read of the body: Some(bytes), Some(0) at the end, Some(ERROR),
    /// or None when `block` is false and nothing has come yet.
    fn read_input(&mut self, buf: &mut [u8], block: bool) -> Option<isize> {
        self.next_input(buf.len(), block, |input| {
            let mut len: sys::apr_size_t = buf.len();
            // SAFETY: input is a live brigade of this request; flatten copies
            // at most buf.len() bytes into buf.
            unsafe { sys::apr_brigade_flatten(input, buf.as_mut_ptr().cast(), &mut len) };
            Ok(len)
        })
    }

    /// One ap_get_brigade of up to `max` body bytes into the input brigade,
    /// handed to `take`, which consumes them and says how many there were;
    /// then the brigade is emptied. Returns as [`read_input`](Self::read_input).
    fn next_input(
        &mut self,
        max: usize,
        block: bool,
        mut take: impl FnMut(*mut sys::apr_bucket_brigade) -> Result<usize, sys::apr_status_t>,
    ) -> Option<isize> {
        if self.body_error.is_some() {
            return Some(ERROR as isize);
        }
        if self.input_done || max == 0 {
            return Some(0);
        }
        let r = self.r;
        let mode = if block {
            sys::apr_read_type_e_APR_BLOCK_READ
        } else {
            sys::apr_read_type_e_APR_NONBLOCK_READ
        };
        // SAFETY: r is live on this thread; the brigade lives in r's pool and
        // is only used by this request.
        unsafe {
            if self.input.is_null() {
                self.input = sys::apr_brigade_create((*r).pool, (*(*r).connection).bucket_alloc);
            }
            loop {
                let mut rv = sys::ap_get_brigade(
                    (*r).input_filters,
                    self.input,
                    sys::ap_input_mode_t_AP_MODE_READBYTES,
                    mode,
                    max.min(i32::MAX as usize) as sys::apr_off_t,
                );
                if !block && rv == libc::EAGAIN {
                    sys::apr_brigade_cleanup(self.input.cast());
                    return None;
                }
                let mut len = 0;
                let mut eos = false;
                if rv == 0 {
                    eos = sys::rustgi_shim_brigade_has_eos(self.input) != 0;
                    match take(self.input) {
                        Ok(n) => len = n,
                        Err(e) => rv = e,
                    }
                }
                sys::apr_brigade_cleanup(self.input.cast());
                if rv != 0 {
                    let status = sys::ap_map_http_request_error(rv, sys::HTTP_BAD_REQUEST as c_int);
                    self.body_error = Some(status);
                    log::request(
                        r,
                        sys::APLOG_INFO as i32,
                        rv,
                        &format!("reading the request body failed (status {status})"),
                    );
                    return Some(ERROR as isize);
                }
                self.input_done = eos;
                if len > 0 || eos {
                    return Some(len as isize);
                }
                if !block {
                    return None;
                }
            }
        }
    }

    /// Reads up to `want` body bytes for the daemon, kept in Apache's own
    /// buffers (no copy) until [`send_gathered`](Self::send_gathered):
    /// waits for the first bytes when `wait`, then takes what has come
    /// without waiting. The number of bytes, 0 at the end, ERROR, or None
    /// when `wait` is false and nothing has come yet.
    pub fn gather_body(&mut self, want: usize, wait: bool) -> Option<isize> {
        let first = match self.gather_input(want, wait) {
            Some(n) if n > 0 => n as usize,
            other => return other,
        };
        let mut gathered = first;
        while gathered < want {
            match self.gather_input(want - gathered, false) {
                Some(n) if n > 0 => gathered += n as usize,
                // The end, nothing more yet, or an error (it comes back on the
                // next read, after the bytes already gathered).
                _ => break,
            }
        }
        Some(gathered as isize)
    }

    fn gather_input(&mut self, max: usize, block: bool) -> Option<isize> {
        let r = self.r;
        if self.gathered.is_null() {
            // SAFETY: r is live on this thread; the brigade lives in its pool.
            self.gathered =
                unsafe { sys::apr_brigade_create((*r).pool, (*(*r).connection).bucket_alloc) };
        }
        let gathered = self.gathered;
        self.next_input(max, block, |input| {
            let mut len: sys::apr_off_t = 0;
            // SAFETY: both brigades are live brigades of this request; the
            // buckets are set aside in r's pool before they move, so they
            // outlive the next read (a transient one is copied).
            let rv = unsafe {
                let rv = sys::apr_brigade_length(input, 1, &mut len);
                if rv == 0 {
                    sys::rustgi_shim_brigade_keep(gathered, input, (*r).pool)
                } else {
                    rv
                }
            };
            if rv != 0 {
                return Err(rv);
            }
            Ok(usize::try_from(len).unwrap_or(0))
        })
    }

    /// Hands the body bytes gathered by [`gather_body`](Self::gather_body)
    /// to `send` as slices of Apache's buffers (or, when they are in too
    /// many pieces, copied into `spill`), then frees them.
    pub fn send_gathered(
        &mut self,
        spill: &mut Vec<u8>,
        send: impl FnOnce(&[IoSlice<'_>]) -> io::Result<()>,
    ) -> io::Result<()> {
        const MAX_SLICES: usize = 256;
        if self.gathered.is_null() {
            return send(&[]);
        }
        let mut ptrs = [std::ptr::null::<c_char>(); MAX_SLICES];
        let mut lens: [sys::apr_size_t; MAX_SLICES] = [0; MAX_SLICES];
        // SAFETY: gathered is a live brigade of this request; the arrays have
        // room for MAX_SLICES entries, as the shim is told.
        let count = unsafe {
            sys::rustgi_shim_brigade_slices(
                self.gathered,
                ptrs.as_mut_ptr(),
                lens.as_mut_ptr(),
                MAX_SLICES as c_int,
            )
        };
        let sent = match usize::try_from(count) {
            Ok(count) => {
                let slices: Vec<IoSlice<'_>> = ptrs[..count]
                    .iter()
                    .zip(&lens[..count])
                    .map(|(&ptr, &len)| {
                        // SAFETY: the shim read these (pointer, length) pairs
                        // from the brigade's buckets; they stay valid until
                        // the brigade is cleaned up below, after send.
                        IoSlice::new(unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) })
                    })
                    .collect();
                send(&slices)
            }
            Err(_) => {
                let mut len: sys::apr_off_t = 0;
                // SAFETY: gathered is a live brigade of this request; len is
                // valid for writing.
                let rv = unsafe { sys::apr_brigade_length(self.gathered, 1, &mut len) };
                if rv != 0 {
                    Err(io::Error::other(format!(
                        "cannot read the request body (APR status {rv})"
                    )))
                } else {
                    spill.resize(usize::try_from(len).unwrap_or(0), 0);
                    let mut flat: sys::apr_size_t = spill.len();
                    // SAFETY: gathered is a live brigade of this request;
                    // flatten copies at most spill.len() bytes into spill.
                    unsafe {
                        sys::apr_brigade_flatten(
                            self.gathered,
                            spill.as_mut_ptr().cast(),
                            &mut flat,
                        )
                    };
                    send(&[IoSlice::new(&spill[..flat])])
                }
            }
        };
        // SAFETY: gathered is a live brigade of this request; nothing refers
        // to its buckets any more.
        unsafe { sys::apr_brigade_cleanup(self.gathered.cast()) };
        sent
    }

    pub fn start_response(&mut self, status: u16, headers: &[RustgiPair]) -> i32 {
        if self.body_error.is_some() || self.refused {
            return ERROR;
        }
        if self.body_started {
            self.log(
                sys::APLOG_ERR,
                &format!(
                    "{}: start_response after the body started is ignored",
                    self.label
                ),
            );
            return ERROR;
        }
        if let Err(e) = response_head::check_status(status) {
            return self.refuse(&e.to_string());
        }
        let mut checked = Vec::with_capacity(headers.len());
        for pair in headers {
            // SAFETY: the app passes pairs of valid (ptr, len) byte strings
            // that live across this call (ABI).
            let (name, value) = unsafe { (pair.name.as_bytes(), pair.value.as_bytes()) };
            match response_head::check_header(name, value) {
                Ok(kind) => checked.push((name.to_vec(), value.to_vec(), kind)),
                Err(e) => return self.refuse(&e.to_string()),
            }
        }
        self.head = Some(Head {
            status,
            headers: checked,
        });
        OK
    }

    /// Applies the head to the request_rec, once, when the body starts.
    fn start_body(&mut self) -> Result<(), ()> {
        if self.body_started {
            return Ok(());
        }
        let Some(head) = self.head.as_ref() else {
            self.refuse("the app wrote its body before calling start_response");
            return Err(());
        };
        self.body_started = true;
        let r = self.r;
        // SAFETY: r is live on this thread; every string is copied into r's
        // pool before Apache keeps it.
        unsafe {
            let pool = (*r).pool;
            (*r).status = c_int::from(head.status);
            // Apache answers 500 for a status missing from its table of
            // reason phrases (299, 418, 599...): name the status ourselves.
            let known = c_bytes(sys::ap_get_status_line((*r).status));
            if !known.starts_with(head.status.to_string().as_bytes()) {
                let line = format!("{} Unknown Reason", head.status);
                (*r).status_line = pool_str(pool, line.as_bytes());
            }
            for (name, value, kind) in &head.headers {
                match kind {
                    HeaderKind::ContentType => sys::ap_set_content_type(r, pool_str(pool, value)),
                    HeaderKind::ContentLength(n) => {
                        if let Ok(n) = sys::apr_off_t::try_from(*n) {
                            sys::ap_set_content_length(r, n);
                        }
                    }
                    HeaderKind::HopByHop => {}
                    HeaderKind::Other => sys::apr_table_addn(
                        (*r).headers_out,
                        pool_str(pool, name),
                        pool_str(pool, value),
                    ),
                }
            }
            self.output = sys::apr_brigade_create(pool, (*(*r).connection).bucket_alloc);
        }
        Ok(())
    }

    /// Whether writes can go on; starts the body when they can.
    fn writable(&mut self) -> bool {
        !self.refused && self.body_error.is_none() && self.start_body().is_ok() && !self.client_gone
    }

    pub fn write(&mut self, bytes: &[u8]) -> i32 {
        if !self.writable() {
            return ERROR;
        }
        // SAFETY: r is live on this thread.
        if bytes.is_empty() || unsafe { (*self.r).header_only } != 0 {
            return OK;
        }
        // SAFETY: the brigade belongs to this request; apr_brigade_write
        // copies or passes the bytes before returning, and flushes through
        // ap_filter_flush to r's output filters.
        let rv = unsafe {
            sys::apr_brigade_write(
                self.output,
                Some(sys::ap_filter_flush),
                (*self.r).output_filters.cast(),
                bytes.as_ptr().cast::<c_char>(),
                bytes.len(),
            )
        };
        self.after_pass(rv)
    }

    /// Sends `range` of the regular file `file` (checked by the caller with
    /// [`passed_fds::checked_range`]) after what was written before, as
    /// file buckets that own the descriptor until the request's pool goes.
    pub fn send_file(&mut self, file: OwnedFd, range: FileRange) -> i32 {
        if !self.writable() {
            return ERROR;
        }
        // SAFETY: r is live on this thread.
        if unsafe { (*self.r).header_only } != 0 {
            return OK;
        }
        let (Ok(offset), Ok(len)) = (
            sys::apr_off_t::try_from(range.offset),
            sys::apr_off_t::try_from(range.length),
        ) else {
            // FileRange keeps both within apr_off_t.
            return ERROR;
        };
        // SAFETY: the brigade belongs to this request and r is live; the
        // descriptor is open and handed over (the pool closes it).
        let rv = unsafe {
            let rv = sys::rustgi_shim_brigade_append_file(
                self.output,
                file.into_raw_fd(),
                offset,
                len,
                (*self.r).pool,
            );
            if rv != 0 {
                rv
            } else {
                // On its way now: the file's bytes need no memory here,
                // and the client gets them while the app goes on.
                let rv = sys::ap_pass_brigade((*self.r).output_filters, self.output);
                sys::apr_brigade_cleanup(self.output.cast());
                rv
            }
        };
        self.after_pass(rv)
    }

    pub fn flush(&mut self) -> i32 {
        if !self.writable() {
            return ERROR;
        }
        // SAFETY: the brigade belongs to this request and r is live.
        let rv = unsafe {
            sys::rustgi_shim_brigade_append_flush(self.output);
            let rv = sys::ap_pass_brigade((*self.r).output_filters, self.output);
            sys::apr_brigade_cleanup(self.output.cast());
            rv
        };
        self.after_pass(rv)
    }

    fn after_pass(&mut self, rv: sys::apr_status_t) -> i32 {
        if rv == 0 {
            return OK;
        }
        self.client_gone = true;
        // SAFETY: r is live on this thread.
        unsafe {
            log::request(
                self.r,
                sys::APLOG_DEBUG as i32,
                rv,
                "the client went away while the response was sent",
            );
        }
        ERROR
    }

    /// Sends what the output filters need to end the response: EOS, or for a
    /// response cut short an error bucket that stops the chunked encoding from
    /// writing its last chunk, so the client sees the response as incomplete.
    fn end_output(&mut self, complete: bool) {
        let r = self.r;
        // SAFETY: r is live on this thread and the brigade is its own.
        unsafe {
            if !complete {
                sys::rustgi_shim_brigade_append_error(
                    self.output,
                    sys::HTTP_BAD_GATEWAY as c_int,
                    (*r).pool,
                );
                (*(*r).connection).keepalive = sys::ap_conn_keepalive_e_AP_CONN_CLOSE;
            }
            // FLUSH first: the response goes out now instead of waiting for
            // the MPM to write it after the handler returns.
            sys::rustgi_shim_brigade_append_flush(self.output);
            sys::rustgi_shim_brigade_append_eos(self.output);
            sys::ap_pass_brigade((*r).output_filters, self.output);
            sys::apr_brigade_cleanup(self.output.cast());
        }
    }

    /// Ends the request after the app returned `rc`; the result is the
    /// handler's return value for Apache.
    pub fn finish(&mut self, rc: i32) -> c_int {
        let internal_error = sys::HTTP_INTERNAL_SERVER_ERROR as c_int;
        let failure = if let Some(status) = self.body_error {
            Some(status)
        } else if self.refused {
            Some(internal_error)
        } else if rc != OK {
            let message = if self.body_started {
                "failed after its response started; the response was cut short"
            } else {
                "failed before it responded"
            };
            self.log(sys::APLOG_ERR, &format!("{} {message}", self.label));
            Some(internal_error)
        } else if self.head.is_none() {
            self.log(
                sys::APLOG_ERR,
                &format!("{} returned without calling start_response", self.label),
            );
            Some(internal_error)
        } else {
            None
        };
        match failure {
            Some(status) if !self.body_started => status,
            Some(_) => {
                self.end_output(false);
                sys::OK as c_int
            }
            None => {
                if self.start_body().is_ok() && !self.client_gone {
                    self.end_output(true);
                }
                sys::OK as c_int
            }
        }
    }
}

/// The request state behind an app's ctx, on the thread that owns it.
///
/// # Safety
/// `ctx` is NULL or the HostCtx pointer the host gave the app, still alive.
unsafe fn request_state<'a>(ctx: *mut c_void) -> Option<&'a mut RequestState> {
    if ctx.is_null() {
        return None;
    }
    // SAFETY: ctx is a live HostCtx (caller); the app calls back on the
    // handling thread while handle runs, when the host holds no reference.
    let host = unsafe { &mut *ctx.cast::<HostCtx>() };
    let server = host.server;
    let state = host.request.as_mut()?;
    if state.on_own_thread() {
        return Some(state);
    }
    // Not the request's thread: log against the server, never the request.
    log::server(
        server,
        sys::APLOG_ERR as i32,
        0,
        &format!(
            "{} called the host from another thread; refused",
            state.label
        ),
    );
    None
}

unsafe extern "C" fn read_body(ctx: *mut c_void, buf: *mut u8, len: usize) -> isize {
    guard("read_body", ERROR as isize, || {
        // SAFETY: ctx per the ABI; buf is writable for len bytes (ABI).
        let Some(state) = (unsafe { request_state(ctx) }) else {
            return ERROR as isize;
        };
        if buf.is_null() {
            return if len == 0 { 0 } else { ERROR as isize };
        }
        // SAFETY: the app guarantees buf is valid for len bytes.
        state.read_body(unsafe { std::slice::from_raw_parts_mut(buf, len) })
    })
}

unsafe extern "C" fn start_response(
    ctx: *mut c_void,
    status: u16,
    headers: *const RustgiPair,
    headers_len: usize,
) -> i32 {
    guard("start_response", ERROR, || {
        // SAFETY: ctx per the ABI.
        let Some(state) = (unsafe { request_state(ctx) }) else {
            return ERROR;
        };
        let headers = if headers.is_null() || headers_len == 0 {
            &[][..]
        } else {
            // SAFETY: the app passes headers_len pairs at headers (ABI).
            unsafe { std::slice::from_raw_parts(headers, headers_len) }
        };
        state.start_response(status, headers)
    })
}

unsafe extern "C" fn write(ctx: *mut c_void, buf: *const u8, len: usize) -> i32 {
    guard("write", ERROR, || {
        // SAFETY: ctx per the ABI.
        let Some(state) = (unsafe { request_state(ctx) }) else {
            return ERROR;
        };
        let bytes = if buf.is_null() || len == 0 {
            &[][..]
        } else {
            // SAFETY: the app passes len readable bytes at buf (ABI).
            unsafe { std::slice::from_raw_parts(buf, len) }
        };
        state.write(bytes)
    })
}

unsafe extern "C" fn flush(ctx: *mut c_void) -> i32 {
    guard("flush", ERROR, || {
        // SAFETY: ctx per the ABI.
        match unsafe { request_state(ctx) } {
            Some(state) => state.flush(),
            None => ERROR,
        }
    })
}

unsafe extern "C" fn send_file(ctx: *mut c_void, fd: i32, offset: u64, len: u64) -> i32 {
    guard("send_file", ERROR, || {
        // SAFETY: ctx per the ABI.
        let Some(state) = (unsafe { request_state(ctx) }) else {
            return ERROR;
        };
        if len == 0 {
            return state.write(&[]);
        }
        if fd < 0 {
            return state.refuse_file("a negative descriptor");
        }
        // SAFETY: the app keeps fd open across the call (ABI); the borrow
        // ends with it, and what Apache keeps is a duplicate.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        let range = match passed_fds::checked_range(fd, offset, len) {
            Ok(range) => range,
            Err(why) => return state.refuse_file(&why),
        };
        match fd.try_clone_to_owned() {
            Ok(file) => state.send_file(file, range),
            Err(e) => state.refuse_file(&format!("the descriptor cannot be duplicated: {e}")),
        }
    })
}

unsafe extern "C" fn log_message(ctx: *mut c_void, level: i32, msg: *const c_char, len: usize) {
    guard("log", (), || {
        let text = if msg.is_null() {
            String::new()
        } else {
            // SAFETY: the app passes len readable bytes at msg (ABI).
            let bytes = unsafe { std::slice::from_raw_parts(msg.cast::<u8>(), len) };
            String::from_utf8_lossy(bytes).into_owned()
        };
        let level = level.clamp(0, sys::APLOG_TRACE8 as i32);
        if ctx.is_null() {
            return log::server(std::ptr::null(), level, 0, &text);
        }
        // SAFETY: a non-NULL ctx is a live HostCtx (ABI).
        let host = unsafe { &*ctx.cast::<HostCtx>() };
        match &host.request {
            // SAFETY: a request is only logged against on its own thread.
            Some(state) if state.on_own_thread() => unsafe {
                log::request(state.r, level, 0, &text)
            },
            _ => log::server(host.server, level, 0, &text),
        }
    })
}
