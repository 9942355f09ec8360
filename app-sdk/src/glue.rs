//! The glue between the C ABI and [`App`], used by the export macros.
//!
//! This module holds, with [`abi`](crate::abi), all of the crate's `unsafe`
//! code:
//!
//! * the `init`, `handle` and `shutdown` functions that the macros put in the
//!   app's descriptor ([`Descriptor`]), which convert the C structs, call the
//!   app and send its response;
//! * the host callbacks behind [`RequestBody`](crate::RequestBody),
//!   [`BodyWriter`](crate::response::BodyWriter) and the logger.
//!
//! No panic crosses the C boundary: every `extern "C"` function catches
//! unwinding. The panic hook of `crate::panics`, installed at the
//! first `init`, records the message and location of panics on threads
//! running glue code, so the glue can write them to the host's error log
//! instead of stderr. Panics on other threads go to the hook that was there
//! before.
//!
//! Not a public API: it may change at any time.

use std::any::Any;
use std::cell::Cell;
use std::ffi::{CStr, c_char, c_void};
use std::io::{self, Write as _};
use std::mem::size_of;
use std::os::fd::AsRawFd;
use std::panic::{self, AssertUnwindSafe};
use std::ptr;
use std::rc::Rc;
use std::sync::{OnceLock, PoisonError, RwLock};

use crate::abi::{
    ABI_VERSION, ERROR, LOG_DEBUG, LOG_ERR, OK, RustgiApp, RustgiHostApi, RustgiInit, RustgiPair,
    RustgiRequest,
};
use crate::panics::{self, Capture};
use crate::request_id::RequestIdScope;
use crate::response::{BodyKind, FileRange, Sink, StreamFn};
use crate::response::{BodyWriter, RawHeaders};
use crate::{App, Config, Environ, InitContext, Request, RequestBody, Response};

/// The host API given to the first successful `init`, for logging with no
/// context from any thread.
static HOST_API: OnceLock<RustgiHostApi> = OnceLock::new();

/// How many instances are between `init` and `shutdown`. The host accepts log
/// calls with a NULL ctx only then; loggers hold the read lock while calling.
static LIVE_INSTANCES: RwLock<usize> = RwLock::new(0);

/// The host API and ctx of a glue call, for logging.
type HostContext = (RustgiHostApi, *mut c_void);

thread_local! {
    /// The host API and ctx of the `init` or `handle` running on this thread.
    static CURRENT: Cell<Option<HostContext>> = const { Cell::new(None) };
}

/// A glue call running on this thread: sets [`CURRENT`], captures panics
/// (see [`panics`]) and restores both when dropped, unwinding included.
struct Scope {
    previous: Option<HostContext>,
    _capture: Capture,
}

impl Scope {
    fn enter(current: Option<HostContext>) -> Scope {
        Scope {
            _capture: Capture::enter(false),
            previous: CURRENT.with(|c| c.replace(current)),
        }
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.previous));
    }
}

/// Sends `msg` to the host's error log at `level` (`abi::LOG_*`): with the
/// context of the glue call running on this thread, else with no context
/// while some instance is live, else nowhere.
pub(crate) fn log_to_host(level: i32, msg: &str) {
    if let Some((api, ctx)) = CURRENT.try_with(Cell::get).ok().flatten() {
        // SAFETY: CURRENT only holds the API and ctx of the init or handle
        // call running on this thread (a Scope resets it before the call
        // returns), and the host accepts log calls with that ctx from this
        // thread until then. msg is valid for msg.len() bytes.
        unsafe { (api.log)(ctx, level, msg.as_ptr().cast::<c_char>(), msg.len()) };
        return;
    }
    let live = LIVE_INSTANCES
        .read()
        .unwrap_or_else(PoisonError::into_inner);
    if *live > 0 {
        if let Some(api) = HOST_API.get() {
            // SAFETY: the host accepts log calls with a NULL ctx from any
            // thread between init and shutdown; an instance is live, and the
            // read lock keeps its shutdown from completing during the call.
            unsafe {
                (api.log)(
                    ptr::null_mut(),
                    level,
                    msg.as_ptr().cast::<c_char>(),
                    msg.len(),
                )
            };
        }
    }
}

/// Reports a problem found before the host API could be trusted: through the
/// host's log if an earlier instance made it usable, else on stderr (which
/// Apache sends to its main error log).
fn report_without_context(msg: &str) {
    let live = *LIVE_INSTANCES
        .read()
        .unwrap_or_else(PoisonError::into_inner);
    if live > 0 && HOST_API.get().is_some() {
        log_to_host(LOG_ERR, msg);
    } else {
        let _ = writeln!(io::stderr(), "rustgi app: {msg}");
    }
}

fn add_live_instances(delta: isize) {
    let mut live = LIVE_INSTANCES
        .write()
        .unwrap_or_else(PoisonError::into_inner);
    *live = live.saturating_add_signed(delta);
}

/// The message of a caught panic (see [`panics::report`]).
fn panic_message(payload: Box<dyn Any + Send>) -> String {
    panics::report(payload).message
}

/// Runs the body of an `extern "C"` function, turning a panic that escaped
/// the more specific handling into `ERROR`.
fn guard(what: &str, f: impl FnOnce() -> i32) -> i32 {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(code) => code,
        Err(payload) => {
            let msg = panic_message(payload);
            report_without_context(&format!("{what} panicked: {msg}"));
            ERROR
        }
    }
}

/// The pairs at `ptr` as byte slices.
///
/// # Safety
///
/// Unless `len` is 0, `ptr` must point to `len` pairs whose strings are valid
/// for `'a`.
unsafe fn pairs<'a>(
    ptr: *const RustgiPair,
    len: usize,
) -> impl Iterator<Item = (&'a [u8], &'a [u8])> {
    let pairs: &'a [RustgiPair] = if len == 0 || ptr.is_null() {
        &[]
    } else {
        // SAFETY: the caller guarantees `len` valid pairs at `ptr` for 'a.
        unsafe { std::slice::from_raw_parts(ptr, len) }
    };
    pairs.iter().map(|pair| {
        // SAFETY: the caller guarantees the strings of every pair are valid
        // for 'a.
        unsafe { (pair.name.as_bytes(), pair.value.as_bytes()) }
    })
}

/// A copy of the host API at `api`, if it is a version-1 API with every
/// version-1.0 callback (later, optional ones read as `None` from an older
/// host).
///
/// # Safety
///
/// `api` must be NULL or point to a `rustgi_host_api` of `struct_size` bytes.
unsafe fn read_api(api: *const RustgiHostApi) -> Result<RustgiHostApi, String> {
    // SAFETY: as the caller guarantees; the host fills in every 1.0 callback.
    unsafe { RustgiHostApi::copy_from(api) }.map_err(|e| e.to_string())
}

/// Checks the `struct_size` and `abi_version` of a struct made by the host.
fn check_header(name: &str, size: u32, version: u32, needed: usize) -> Result<(), String> {
    if version != ABI_VERSION {
        return Err(format!(
            "the host speaks rustgi ABI version {version} ({name}); this app was built for version {ABI_VERSION}"
        ));
    }
    if (size as usize) < needed {
        return Err(format!(
            "the host's {name} is {size} bytes, smaller than the {needed} bytes of ABI version {ABI_VERSION}"
        ));
    }
    Ok(())
}

/// Writes `msg` into the error buffer of `init`, NUL-terminated, cut at the
/// first NUL and to `error_cap - 1` bytes on a UTF-8 character boundary.
///
/// # Safety
///
/// `init.error` must be NULL or point to `init.error_cap` writable bytes.
unsafe fn write_error(init: &RustgiInit, msg: &str) {
    if init.error.is_null() || init.error_cap == 0 {
        return;
    }
    let msg = msg.split('\0').next().unwrap_or_default();
    let mut len = msg.len().min(init.error_cap - 1);
    while !msg.is_char_boundary(len) {
        len -= 1;
    }
    // SAFETY: `error` has error_cap writable bytes and len + 1 <= error_cap;
    // `msg` is our own memory, so the two do not overlap.
    unsafe {
        ptr::copy_nonoverlapping(msg.as_ptr(), init.error.cast::<u8>(), len);
        init.error.add(len).write(0);
    }
}

/// `rustgi_app.init` for the app type `A`.
///
/// # Safety
///
/// As the ABI requires: `init` points to a valid `rustgi_init` (with its
/// strings, API and error buffer) for the duration of the call, and
/// `instance` to writable storage for a pointer.
pub unsafe extern "C" fn init<A: App>(init: *const RustgiInit, instance: *mut *mut c_void) -> i32 {
    guard("init", || {
        // SAFETY: the caller upholds the ABI's requirements on both pointers.
        unsafe { init_app::<A>(init, instance) }
    })
}

/// # Safety
///
/// As for [`init`].
unsafe fn init_app<A: App>(init: *const RustgiInit, instance: *mut *mut c_void) -> i32 {
    if init.is_null() || instance.is_null() {
        report_without_context("init was called with a NULL pointer");
        return ERROR;
    }
    // SAFETY: `init` points to a rustgi_init, which starts with struct_size
    // and abi_version in every revision.
    let (size, version) = unsafe { ((*init).struct_size, (*init).abi_version) };
    if let Err(msg) = check_header("rustgi_init", size, version, size_of::<RustgiInit>()) {
        // Nothing past the first two fields can be trusted, not even the
        // error buffer.
        report_without_context(&msg);
        return ERROR;
    }
    // SAFETY: struct_size covers every field of the version-1 struct.
    let init = unsafe { ptr::read(init) };
    // SAFETY: per the ABI, `api` points to the host's rustgi_host_api.
    let api = match unsafe { read_api(init.api) } {
        Ok(api) => api,
        Err(msg) => {
            // SAFETY: per the ABI, `error` has `error_cap` writable bytes.
            unsafe { write_error(&init, &msg) };
            report_without_context(&msg);
            return ERROR;
        }
    };
    let _ = HOST_API.set(api);
    crate::logger::install();
    panics::install();

    // SAFETY: per the ABI, `config` holds `config_len` pairs valid during
    // the call; Config copies them.
    let config = Config::from_raw_pairs(unsafe { pairs(init.config, init.config_len) });
    let ctx = InitContext::new(config);
    add_live_instances(1);
    let outcome = {
        let _scope = Scope::enter(Some((api, init.ctx)));
        panic::catch_unwind(|| A::init(&ctx))
    };
    let msg = match outcome {
        Ok(Ok(app)) => {
            let app = Box::into_raw(Box::new(app));
            // SAFETY: `instance` is valid for writing a pointer (checked not
            // NULL above; the ABI guarantees the rest).
            unsafe { instance.write(app.cast::<c_void>()) };
            return OK;
        }
        Ok(Err(err)) => err.message().to_owned(),
        Err(payload) => format!("init panicked: {}", panic_message(payload)),
    };
    add_live_instances(-1);
    // SAFETY: per the ABI, `error` has `error_cap` writable bytes.
    unsafe { write_error(&init, &msg) };
    ERROR
}

/// `rustgi_app.handle` for the app type `A`.
///
/// # Safety
///
/// As the ABI requires: `instance` is what [`init`] stored for `A` and has
/// not been shut down; `request` points to a valid `rustgi_request` (with
/// its strings and API) until the call returns, and its callbacks accept
/// calls from this thread until then.
pub unsafe extern "C" fn handle<A: App>(
    instance: *mut c_void,
    request: *const RustgiRequest,
) -> i32 {
    guard("handle", || {
        // SAFETY: the caller upholds the ABI's requirements.
        unsafe { handle_request::<A>(instance, request) }
    })
}

/// # Safety
///
/// As for [`handle`].
unsafe fn handle_request<A: App>(instance: *mut c_void, request: *const RustgiRequest) -> i32 {
    if instance.is_null() || request.is_null() {
        report_without_context("handle was called with a NULL pointer");
        return ERROR;
    }
    // SAFETY: `instance` is the Box<A> that init made, still alive, and
    // handle only takes shared references to it.
    let app = unsafe { &*instance.cast::<A>() };
    // SAFETY: `request` points to a rustgi_request, which starts with
    // struct_size and abi_version in every revision.
    let (size, version) = unsafe { ((*request).struct_size, (*request).abi_version) };
    if let Err(msg) = check_header("rustgi_request", size, version, size_of::<RustgiRequest>()) {
        report_without_context(&msg);
        return ERROR;
    }
    // SAFETY: struct_size covers every field of the version-1 struct.
    let request = unsafe { ptr::read(request) };
    // SAFETY: per the ABI, `api` points to the host's rustgi_host_api.
    let api = match unsafe { read_api(request.api) } {
        Ok(api) => api,
        Err(msg) => {
            report_without_context(&msg);
            return ERROR;
        }
    };
    // SAFETY: per the ABI, `environ` and `config` hold `*_len` pairs valid
    // until handle returns; Environ and Config copy them.
    let (environ, config) = unsafe {
        (
            pairs(request.environ, request.environ_len).collect::<Environ>(),
            Config::from_raw_pairs(pairs(request.config, request.config_len)),
        )
    };

    let host = Rc::new(HostRequest {
        api,
        ctx: request.ctx,
        live: Cell::new(true),
    });
    let _live = EndOfRequest(Rc::clone(&host));
    let _scope = Scope::enter(Some((api, request.ctx)));
    let body = RequestBody::from_reader(HostBody(Rc::clone(&host)));
    let req = Request::new(environ, config, body);
    let _request_id = RequestIdScope::enter(req.request_id());
    match panic::catch_unwind(AssertUnwindSafe(|| app.handle(req))) {
        Ok(res) => send_response(&host, res),
        Err(payload) => {
            let msg = panic_message(payload);
            log_to_host(LOG_ERR, &format!("the app panicked: {msg}"));
            send_internal_server_error(&host)
        }
    }
}

/// `rustgi_app.shutdown` for the app type `A`.
///
/// # Safety
///
/// As the ABI requires: `instance` is what [`init`] stored for `A`, every
/// `handle` call on it has returned, and the host never uses it again.
pub unsafe extern "C" fn shutdown<A: App>(instance: *mut c_void) {
    guard("shutdown", || {
        if instance.is_null() {
            return OK;
        }
        // SAFETY: `instance` is the Box<A> that init made; the host hands it
        // back exactly once, with no handle call running.
        let app = unsafe { Box::from_raw(instance.cast::<A>()) };
        let outcome = {
            let _scope = Scope::enter(None);
            panic::catch_unwind(AssertUnwindSafe(move || {
                app.shutdown();
                drop(app);
            }))
        };
        if let Err(payload) = outcome {
            let msg = panic_message(payload);
            log_to_host(LOG_ERR, &format!("shutdown panicked: {msg}"));
        }
        add_live_instances(-1);
        OK
    });
}

/// The host side of one request. It never leaves the thread running
/// `handle` (it is not `Send`), and `live` turns false when `handle`
/// returns, after which no callback reaches the host.
pub(crate) struct HostRequest {
    api: RustgiHostApi,
    ctx: *mut c_void,
    live: Cell<bool>,
}

/// Marks the request over when dropped.
struct EndOfRequest(Rc<HostRequest>);

impl Drop for EndOfRequest {
    fn drop(&mut self) {
        self.0.live.set(false);
    }
}

impl HostRequest {
    fn check_live(&self) -> io::Result<()> {
        if self.live.get() {
            Ok(())
        } else {
            Err(io::Error::other(
                "the request is over: its handler has returned",
            ))
        }
    }

    fn read_body(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.check_live()?;
        if buf.is_empty() {
            return Ok(0);
        }
        // SAFETY: the request is live (handle has not returned) and this runs
        // on its thread (HostRequest is not Send); `buf` is writable for
        // buf.len() bytes.
        let n = unsafe { (self.api.read_body)(self.ctx, buf.as_mut_ptr(), buf.len()) };
        match usize::try_from(n) {
            Ok(n) if n <= buf.len() => Ok(n),
            Ok(n) => Err(io::Error::other(format!(
                "the host returned {n} body bytes for a {}-byte buffer",
                buf.len()
            ))),
            Err(_) => Err(io::Error::other(
                "the request body could not be read (client gone, malformed chunking or body over LimitRequestBody)",
            )),
        }
    }

    fn start_response(&self, status: u16, headers: &[RustgiPair]) -> bool {
        if self.check_live().is_err() {
            return false;
        }
        // SAFETY: the request is live and this runs on its thread; `headers`
        // and the strings they point to stay valid during the call.
        unsafe {
            (self.api.start_response)(self.ctx, status, headers.as_ptr(), headers.len()) == OK
        }
    }

    fn write(&self, buf: &[u8]) -> bool {
        if self.check_live().is_err() {
            return false;
        }
        // SAFETY: the request is live and this runs on its thread; `buf` is
        // readable for buf.len() bytes.
        unsafe { (self.api.write)(self.ctx, buf.as_ptr(), buf.len()) == OK }
    }

    fn flush(&self) -> bool {
        if self.check_live().is_err() {
            return false;
        }
        // SAFETY: the request is live and this runs on its thread.
        unsafe { (self.api.flush)(self.ctx) == OK }
    }

    /// Has the host send `len` bytes of `file` from `offset`; false when
    /// it offers no `send_file` or refused.
    fn send_file(&self, file: &std::fs::File, offset: u64, len: u64) -> bool {
        let Some(send_file) = self.api.send_file else {
            return false;
        };
        if self.check_live().is_err() {
            return false;
        }
        // SAFETY: the request is live and this runs on its thread; the file
        // stays open across the call (the host keeps its own reference).
        unsafe { send_file(self.ctx, file.as_raw_fd(), offset, len) == OK }
    }
}

/// The reader behind a request's [`RequestBody`].
struct HostBody(Rc<HostRequest>);

impl io::Read for HostBody {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read_body(buf)
    }
}

/// Where a streaming response body goes: the host's `write` and `flush`.
pub(crate) struct HostSink {
    host: Rc<HostRequest>,
    /// Whether a body byte was written or flushed, after which the status and
    /// headers can no longer change.
    committed: bool,
    /// Whether the host refused a write or a flush (the client is gone).
    gone: bool,
}

impl HostSink {
    fn gone_error() -> io::Error {
        io::Error::new(io::ErrorKind::BrokenPipe, "the client is gone")
    }

    pub(crate) fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.committed = true;
        if self.gone || !self.host.write(buf) {
            self.gone = true;
            return Err(HostSink::gone_error());
        }
        Ok(buf.len())
    }

    pub(crate) fn flush(&mut self) -> io::Result<()> {
        self.committed = true;
        if self.gone || !self.host.flush() {
            self.gone = true;
            return Err(HostSink::gone_error());
        }
        Ok(())
    }
}

/// Sends `res`: the status and headers, then the body.
fn send_response(host: &Rc<HostRequest>, res: Response) -> i32 {
    let (parts, body) = res.into_parts();
    let mut headers: Vec<RustgiPair> = parts
        .headers
        .iter()
        .map(|(name, value)| RustgiPair::from_bytes(name.as_str().as_bytes(), value.as_bytes()))
        .collect();
    if let Some(RawHeaders(raw)) = parts.extensions.get::<RawHeaders>() {
        headers.extend(
            raw.iter()
                .map(|(name, value)| RustgiPair::from_bytes(name, value)),
        );
    }
    if !host.start_response(parts.status.as_u16(), &headers) {
        log_to_host(
            LOG_ERR,
            &format!(
                "the host refused the response status {} or its headers",
                parts.status
            ),
        );
        return ERROR;
    }
    match body.into_kind() {
        BodyKind::Empty => OK,
        BodyKind::Bytes(bytes) if bytes.is_empty() => OK,
        BodyKind::Bytes(bytes) => {
            if host.write(&bytes) {
                OK
            } else {
                log_to_host(
                    LOG_DEBUG,
                    "the client went away before the response was sent",
                );
                ERROR
            }
        }
        BodyKind::Stream(stream) => send_stream(host, stream),
        BodyKind::File(range) => send_file(host, range),
    }
}

/// Has the host send a file range itself; where it cannot (an older host,
/// or one that refused it), streams it.
fn send_file(host: &Rc<HostRequest>, range: FileRange) -> i32 {
    if host.send_file(&range.file, range.offset, range.len) {
        return OK;
    }
    send_stream(host, range.into_stream())
}

/// Runs a streaming body into the host.
fn send_stream(host: &Rc<HostRequest>, stream: Box<StreamFn>) -> i32 {
    let mut writer = BodyWriter::host(HostSink {
        host: Rc::clone(host),
        committed: false,
        gone: false,
    });
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| stream(&mut writer)));
    // If the stream swapped its writer with that of a stream it ran into
    // memory, assume the worst: bytes were written.
    let (committed, gone) = match writer.into_sink() {
        Sink::Host(sink) => (sink.committed, sink.gone),
        Sink::Memory(_) => (true, false),
    };
    let failure = match outcome {
        Ok(Ok(())) => return OK,
        Ok(Err(err)) if gone => {
            log_to_host(
                LOG_DEBUG,
                &format!("the client went away during the response: {err}"),
            );
            return ERROR;
        }
        Ok(Err(err)) => format!("the response body stream failed: {err}"),
        Err(payload) => format!(
            "the app panicked in the response body stream: {}",
            panic_message(payload)
        ),
    };
    log_to_host(LOG_ERR, &failure);
    if committed {
        ERROR
    } else {
        send_internal_server_error(host)
    }
}

/// Answers 500 with a plain-text body, replacing the status and headers the
/// app may have set (possible until the first body byte).
fn send_internal_server_error(host: &HostRequest) -> i32 {
    const BODY: &[u8] = b"Internal Server Error";
    let headers = [RustgiPair::from_bytes(
        b"content-type",
        b"text/plain; charset=utf-8",
    )];
    if host.start_response(500, &headers) && host.write(BODY) {
        OK
    } else {
        ERROR
    }
}

/// The descriptor of an app type, as a `static` in the app's crate.
pub struct Descriptor(RustgiApp);

// SAFETY: a Descriptor only holds integers, function pointers and a pointer
// to a 'static C string that is never written to; sharing it between threads
// only ever reads them.
unsafe impl Sync for Descriptor {}

impl Descriptor {
    /// The descriptor of the app type `A`, named `name`.
    pub const fn new<A: App>(name: &'static CStr) -> Descriptor {
        Descriptor(RustgiApp {
            struct_size: size_of::<RustgiApp>() as u32,
            abi_version: ABI_VERSION,
            name: name.as_ptr(),
            init: Some(init::<A>),
            handle: Some(handle::<A>),
            shutdown: Some(shutdown::<A>),
            status: None,
        })
    }

    /// A pointer to the C descriptor, for `rustgi_app_entry`.
    pub const fn as_ptr(&'static self) -> *const RustgiApp {
        &self.0
    }
}

/// `s`, which must end with its only NUL, as a C string (evaluated at
/// compile time by the macros, which append the NUL).
pub const fn c_name(s: &'static str) -> &'static CStr {
    match CStr::from_bytes_with_nul(s.as_bytes()) {
        Ok(name) => name,
        Err(_) => panic!("an app name must not contain NUL bytes"),
    }
}
