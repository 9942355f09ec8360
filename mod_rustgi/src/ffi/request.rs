//! The Apache side of one request's response: a [`Transport`] over
//! Apache's filters, for an app embedded in this child and for the
//! responses daemons send.
//!
//! The ABI's rules (what a status and headers may be, when they may change,
//! what a failure costs) are the [`Exchange`]'s; here they meet the
//! request_rec. The status and headers are applied when the body starts.
//! Writes go through a brigade that coalesces small writes; flush pushes
//! everything down the output filters (mod_deflate, mod_headers, ...); a file
//! goes down them as a file bucket, read by Apache itself.

use std::ffi::{CString, c_char, c_int};
use std::io::{self, IoSlice};
use std::os::fd::{BorrowedFd, IntoRawFd};

use apache_sys as sys;
use rustgi_abi::RustgiHostApi;
use rustgi_contract::protocol::FileRange;
use rustgi_host::exchange::callbacks::{self, Host};
use rustgi_host::exchange::{CheckedHeader, Ending, Exchange, Failure, InputLost, Transport};
use rustgi_host::response_head::HeaderKind;

use super::apache::{Request, Server};
use super::{c_bytes, log, pool_str};
use crate::child_response::ChildResponse;

/// The services the host offers to apps. Made for the `'static` lifetime,
/// the table serves every request: the callbacks use a request's ctx only
/// during the call, while the request is handled.
pub static HOST_API: RustgiHostApi = callbacks::host_api::<ApacheResponse<'static>>();

/// The `ctx` an app passes back to the callbacks: init's, on a virtual
/// host, or a request's.
pub type HostCtx<'r> = callbacks::HostCtx<ApacheResponse<'r>>;

/// A request's response, as an embedded app or a daemon gives it.
pub type Response<'r> = Exchange<ApacheResponse<'r>>;

/// A status and headers, checked, waiting for the body.
pub struct Head {
    status: u16,
    headers: Vec<(Vec<u8>, Vec<u8>, HeaderKind)>,
}

/// The request_rec and brigades of one request.
pub struct ApacheResponse<'r> {
    request: &'r Request,
    /// The request, for Apache's calls.
    r: *mut sys::request_rec,
    /// Who answers, for log lines ("app /srv/a.so", "group shop, pid 12").
    label: String,
    /// Created when the body starts.
    output: *mut sys::apr_bucket_brigade,
    input: *mut sys::apr_bucket_brigade,
    /// Body read for the daemon and not sent yet (see `gather`).
    gathered: *mut sys::apr_bucket_brigade,
    /// Reading the request body failed with this status; it decides the
    /// response.
    body_error: Option<c_int>,
    input_done: bool,
    client_gone: bool,
}

const ERROR: isize = rustgi_abi::ERROR as isize;

impl<'r> ApacheResponse<'r> {
    pub fn new(request: &'r Request, label: String) -> Self {
        ApacheResponse {
            request,
            r: request.as_ptr(),
            label,
            output: std::ptr::null_mut(),
            input: std::ptr::null_mut(),
            gathered: std::ptr::null_mut(),
            body_error: None,
            input_done: false,
            client_gone: false,
        }
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
            return Some(ERROR);
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
                    return Some(ERROR);
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
    /// buffers (no copy) until [`send_kept`](Self::send_kept):
    /// waits for the first bytes when `wait`, then takes what has come
    /// without waiting. The number of bytes, 0 at the end, ERROR, or None
    /// when `wait` is false and nothing has come yet.
    fn gather(&mut self, want: usize, wait: bool) -> Option<isize> {
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

    /// Hands the body bytes gathered by [`gather`](Self::gather)
    /// to `send` as slices of Apache's buffers (or, when they are in too
    /// many pieces, copied into `spill`), then frees them.
    fn send_kept(
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

    /// Whether passing down the filters worked; a failure means the client
    /// went away, and the writes that follow fail at once.
    fn after_pass(&mut self, rv: sys::apr_status_t) -> bool {
        if rv == 0 {
            return true;
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
        false
    }

    /// Sends what the output filters need to end the response: EOS, or for a
    /// response cut short an error bucket that stops the chunked encoding from
    /// writing its last chunk, so the client sees the response as incomplete.
    fn end_output(&mut self, complete: bool) {
        let r = self.r;
        // SAFETY: r is live on this thread; the brigade is its own, made
        // here if the body never started.
        unsafe {
            if self.output.is_null() {
                self.output = sys::apr_brigade_create((*r).pool, (*(*r).connection).bucket_alloc);
            }
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

    /// The handler's return value for a request that ended as `ending`,
    /// after the output is ended (or cut short) to match.
    fn end_with(&mut self, ending: Ending) -> c_int {
        let internal_error = sys::HTTP_INTERNAL_SERVER_ERROR as c_int;
        match ending {
            Ending::Complete => {
                if !self.client_gone {
                    self.end_output(true);
                }
                sys::OK as c_int
            }
            Ending::Unstarted(Failure::Input) => self.body_error.unwrap_or(internal_error),
            Ending::Unstarted(_) => internal_error,
            Ending::CutShort(_) => {
                self.end_output(false);
                sys::OK as c_int
            }
        }
    }
}

/// Apache's side of the ABI: the request_rec and its filters.
impl Transport for ApacheResponse<'_> {
    type Head = Head;

    fn label(&self) -> &str {
        &self.label
    }

    fn read_body(&mut self, buf: &mut [u8]) -> Result<usize, InputLost> {
        match self.read_input(buf, true) {
            Some(n) => usize::try_from(n).map_err(|_| InputLost),
            // A blocking read always has an answer.
            None => Ok(0),
        }
    }

    fn input_lost(&self) -> bool {
        self.body_error.is_some()
    }

    fn prepare_head(&mut self, status: u16, headers: &[CheckedHeader<'_>]) -> Result<Head, String> {
        Ok(Head {
            status,
            headers: headers
                .iter()
                .map(|(name, value, kind)| (name.to_vec(), value.to_vec(), *kind))
                .collect(),
        })
    }

    /// Applies the head to the request_rec.
    fn begin_body(&mut self, head: Head) {
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
    }

    fn write(&mut self, bytes: &[u8]) -> bool {
        if self.client_gone {
            return false;
        }
        // SAFETY: r is live on this thread.
        if bytes.is_empty() || unsafe { (*self.r).header_only } != 0 {
            return true;
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

    /// Sends `range` of `file` after what was written before, as file
    /// buckets that own a duplicate of the descriptor until the request's
    /// pool goes.
    fn send_file(&mut self, file: BorrowedFd<'_>, range: FileRange) -> bool {
        if self.client_gone {
            return false;
        }
        // SAFETY: r is live on this thread.
        if unsafe { (*self.r).header_only } != 0 {
            return true;
        }
        let (Ok(offset), Ok(len)) = (
            sys::apr_off_t::try_from(range.offset),
            sys::apr_off_t::try_from(range.length),
        ) else {
            // FileRange keeps both within apr_off_t.
            return false;
        };
        let file = match file.try_clone_to_owned() {
            Ok(file) => file,
            Err(e) => {
                let line = format!(
                    "{}: send_file refused: the descriptor cannot be duplicated: {e}",
                    self.label
                );
                self.log(rustgi_abi::LOG_ERR, &line);
                return false;
            }
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

    fn flush(&mut self) -> bool {
        if self.client_gone {
            return false;
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

    fn log(&mut self, level: i32, message: &str) {
        self.request.log(level as u32, message);
    }
}

impl<'r> Host for ApacheResponse<'r> {
    /// Init's ctx logs with the virtual host.
    type Scope = &'r Server;

    fn api() -> &'static RustgiHostApi {
        &HOST_API
    }

    fn log_outside(scope: Option<&&'r Server>, level: i32, message: &str) {
        let server = scope.map_or(std::ptr::null(), |s| s.as_ptr());
        log::server(server, level, 0, message);
    }
}

/// What the request path needs of the response beside the app's calls.
impl ChildResponse for ApacheResponse<'_> {
    fn set_label(&mut self, label: String) {
        self.label = label;
    }

    fn has_body(&self) -> bool {
        let headers = self.request.headers_in();
        !headers.get(c"Transfer-Encoding").is_empty()
            || !matches!(headers.get(c"Content-Length"), b"" | b"0")
    }

    fn request_time_us(&self) -> u64 {
        self.request.request_time_us()
    }

    fn gather_body(&mut self, want: usize, wait: bool) -> Option<isize> {
        self.gather(want, wait)
    }

    fn send_gathered(
        &mut self,
        spill: &mut Vec<u8>,
        send: impl FnOnce(&[IoSlice<'_>]) -> io::Result<()>,
    ) -> io::Result<()> {
        self.send_kept(spill, send)
    }

    fn body_error(&self) -> Option<c_int> {
        self.body_error
    }

    fn client_gone(&self) -> bool {
        self.client_gone
    }

    fn set_retry_after(&mut self, seconds: u32) {
        if let Ok(value) = CString::new(seconds.to_string()) {
            self.request.err_headers_out().set(c"Retry-After", &value);
        }
    }

    fn end(&mut self, ending: Ending) -> c_int {
        self.end_with(ending)
    }
}
