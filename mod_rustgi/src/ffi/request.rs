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

#![deny(unsafe_code)]

use std::ffi::{CString, c_int};
use std::io::{self, IoSlice};
use std::os::fd::BorrowedFd;

use apache_sys as sys;
use rustgi_abi::RustgiHostApi;
use rustgi_contract::protocol::FileRange;
use rustgi_host::exchange::callbacks::{self, Host};
use rustgi_host::exchange::{CheckedHeader, Ending, Exchange, Failure, InputLost, Transport};
use rustgi_host::response_head::HeaderKind;

use super::apache::{Brigade, Input, Request, Server};
use super::log;
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
    /// Who answers, for log lines ("app /srv/a.so", "group shop, pid 12").
    label: String,
    /// Made when the body starts.
    output: Option<Brigade<'r>>,
    input: Option<Brigade<'r>>,
    /// Body read for the daemon and not sent yet (see `gather`).
    gathered: Option<Brigade<'r>>,
    /// Reading the request body failed with this status; it decides the
    /// response.
    body_error: Option<c_int>,
    input_done: bool,
    client_gone: bool,
}

/// What one read of the body does with the bytes.
enum Take<'a> {
    /// Copies them into the buffer.
    Copy(&'a mut [u8]),
    /// Keeps them in Apache's buffers, in `gathered`.
    Keep,
}

const ERROR: isize = rustgi_abi::ERROR as isize;

/// The most pieces the body bytes for a daemon are sent in without a copy.
const MAX_SLICES: usize = 256;

impl<'r> ApacheResponse<'r> {
    pub fn new(request: &'r Request, label: String) -> Self {
        ApacheResponse {
            request,
            label,
            output: None,
            input: None,
            gathered: None,
            body_error: None,
            input_done: false,
            client_gone: false,
        }
    }

    /// One read of the body: Some(bytes), Some(0) at the end, Some(ERROR),
    /// or None when `block` is false and nothing has come yet.
    fn read_input(&mut self, buf: &mut [u8], block: bool) -> Option<isize> {
        self.next_input(buf.len(), block, Take::Copy(buf))
    }

    /// One read of up to `max` body bytes, which `take` copies or keeps;
    /// returns as [`read_input`](Self::read_input).
    fn next_input(&mut self, max: usize, block: bool, mut take: Take<'_>) -> Option<isize> {
        if self.body_error.is_some() {
            return Some(ERROR);
        }
        if self.input_done || max == 0 {
            return Some(0);
        }
        let request = self.request;
        let input = self.input.get_or_insert_with(|| Brigade::new(request));
        loop {
            let mut rv = match input.read_input(max, block) {
                Input::Later => {
                    input.cleanup();
                    return None;
                }
                Input::Failed(rv) => rv,
                Input::Read => 0,
            };
            let mut len = 0;
            let mut eos = false;
            if rv == 0 {
                eos = input.has_eos();
                match &mut take {
                    Take::Copy(buf) => len = input.flatten_into(buf),
                    Take::Keep => {
                        let gathered = self.gathered.get_or_insert_with(|| Brigade::new(request));
                        // The buckets are set aside in the request's pool
                        // before they move, so that they outlive the next
                        // read (a transient one is copied).
                        match input.length() {
                            Ok(n) => {
                                len = n;
                                rv = gathered.keep(input);
                            }
                            Err(e) => rv = e,
                        }
                    }
                }
            }
            input.cleanup();
            if rv != 0 {
                let status = Request::body_error_status(rv);
                self.body_error = Some(status);
                request.log_status(
                    sys::APLOG_INFO,
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

    /// Reads up to `want` body bytes for the daemon, kept in Apache's own
    /// buffers (no copy) until [`send_kept`](Self::send_kept):
    /// waits for the first bytes when `wait`, then takes what has come
    /// without waiting. The number of bytes, 0 at the end, ERROR, or None
    /// when `wait` is false and nothing has come yet.
    fn gather(&mut self, want: usize, wait: bool) -> Option<isize> {
        let first = match self.next_input(want, wait, Take::Keep) {
            Some(n) if n > 0 => n as usize,
            other => return other,
        };
        let mut gathered = first;
        while gathered < want {
            match self.next_input(want - gathered, false, Take::Keep) {
                Some(n) if n > 0 => gathered += n as usize,
                // The end, nothing more yet, or an error (it comes back on the
                // next read, after the bytes already gathered).
                _ => break,
            }
        }
        Some(gathered as isize)
    }

    /// Hands the body bytes gathered by [`gather`](Self::gather)
    /// to `send` as slices of Apache's buffers (or, when they are in too
    /// many pieces, copied into `spill`), then frees them.
    fn send_kept(
        &mut self,
        spill: &mut Vec<u8>,
        send: impl FnOnce(&[IoSlice<'_>]) -> io::Result<()>,
    ) -> io::Result<()> {
        let Some(gathered) = self.gathered.as_mut() else {
            return send(&[]);
        };
        let sent = match gathered.with_slices::<MAX_SLICES, _, _>(send) {
            Ok(sent) => sent,
            Err(send) => match gathered.length() {
                Err(rv) => Err(io::Error::other(format!(
                    "cannot read the request body (APR status {rv})"
                ))),
                Ok(len) => {
                    spill.resize(len, 0);
                    let flat = gathered.flatten_into(spill);
                    send(&[IoSlice::new(&spill[..flat])])
                }
            },
        };
        gathered.cleanup();
        sent
    }

    /// Whether passing down the filters worked; a failure means the client
    /// went away, and the writes that follow fail at once.
    fn after_pass(&mut self, rv: sys::apr_status_t) -> bool {
        if rv == 0 {
            return true;
        }
        self.client_gone = true;
        self.request.log_status(
            sys::APLOG_DEBUG,
            rv,
            "the client went away while the response was sent",
        );
        false
    }

    /// Sends what the output filters need to end the response: EOS, or for a
    /// response cut short an error bucket that stops the chunked encoding from
    /// writing its last chunk, so the client sees the response as incomplete.
    fn end_output(&mut self, complete: bool) {
        let request = self.request;
        let output = self.output.get_or_insert_with(|| Brigade::new(request));
        if !complete {
            output.append_error(sys::HTTP_BAD_GATEWAY as c_int);
            request.close_connection();
        }
        // FLUSH first: the response goes out now instead of waiting for the
        // MPM to write it after the handler returns.
        output.append_flush();
        output.append_eos();
        output.pass();
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

    /// The output brigade, once the body started.
    fn output(&mut self) -> Option<&mut Brigade<'r>> {
        if self.client_gone {
            return None;
        }
        self.output.as_mut()
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
        let request = self.request;
        request.set_response_status(head.status);
        for (name, value, kind) in &head.headers {
            match kind {
                HeaderKind::ContentType => request.set_content_type_bytes(value),
                HeaderKind::ContentLength(n) => request.set_content_length(*n),
                HeaderKind::HopByHop => {}
                HeaderKind::Other => request.add_header_out(name, value),
            }
        }
        self.output = Some(Brigade::new(request));
    }

    fn write(&mut self, bytes: &[u8]) -> bool {
        let header_only = self.request.header_only();
        let Some(output) = self.output() else {
            return false;
        };
        if bytes.is_empty() || header_only {
            return true;
        }
        let rv = output.write(bytes);
        self.after_pass(rv)
    }

    /// Sends `range` of `file` after what was written before, as file
    /// buckets that own a duplicate of the descriptor until the request's
    /// pool goes.
    fn send_file(&mut self, file: BorrowedFd<'_>, range: FileRange) -> bool {
        if self.client_gone {
            return false;
        }
        if self.request.header_only() {
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
        let Some(output) = self.output() else {
            return false;
        };
        let mut rv = output.append_file(file, offset, len);
        if rv == 0 {
            // On its way now: the file's bytes need no memory here, and the
            // client gets them while the app goes on.
            rv = output.pass();
        }
        self.after_pass(rv)
    }

    fn flush(&mut self) -> bool {
        let Some(output) = self.output() else {
            return false;
        };
        output.append_flush();
        let rv = output.pass();
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
