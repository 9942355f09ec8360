//! The ABI's callbacks (`rustgi_host_api`) over any [`Transport`], and the
//! one way a host calls an app.
//!
//! The `ctx` an app passes back is a [`HostCtx`]: init's carries only where
//! log lines go, a request's carries its [`Exchange`] and the thread that
//! runs the app's handle, the only thread allowed to touch it (APR pools,
//! filters and a daemon's connection are not thread-safe). No panic leaves a
//! callback.

use std::cell::UnsafeCell;
use std::ffi::{c_char, c_void};
use std::os::fd::BorrowedFd;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::thread::{self, ThreadId};

use rustgi_abi::{self as abi, RustgiHostApi, RustgiPair, RustgiRequest};

use super::{Exchange, Transport};
use crate::app::AppInstance;
use rustgi_contract::pairs::Pairs;

/// A host's side of the callbacks: its table, and where log lines go when
/// there is no request to file them with.
///
/// A transport that borrows its request (`ApacheResponse<'r>`) has one
/// table, made for `'static`: lifetimes do not change a type's layout, and
/// the callbacks hold what they get from a ctx only during the call, while
/// the ctx is live (the ABI's rule).
pub trait Host: Transport + Sized {
    /// What init's ctx carries for log lines (an embedded app's virtual
    /// host, say).
    type Scope;

    /// The host's table of callbacks: a `static` made by [`host_api`].
    fn api() -> &'static RustgiHostApi;

    /// Logs a line outside a request: with init's scope, or with none (a
    /// NULL ctx, a misused ctx, a panic of the host).
    fn log_outside(scope: Option<&Self::Scope>, level: i32, message: &str);
}

/// The table of callbacks of host `T`, for its `static`.
pub const fn host_api<T: Host>() -> RustgiHostApi {
    RustgiHostApi {
        struct_size: size_of::<RustgiHostApi>() as u32,
        abi_version: abi::ABI_VERSION,
        read_body: read_body::<T>,
        start_response: start_response::<T>,
        write: write::<T>,
        flush: flush::<T>,
        log: log_message::<T>,
        send_file: Some(send_file::<T>),
    }
}

/// The `ctx` given to an app: init's, or a request's.
pub struct HostCtx<T: Host> {
    scope: T::Scope,
    request: Option<RequestSlot<T>>,
}

struct RequestSlot<T: Transport> {
    thread: ThreadId,
    exchange: UnsafeCell<Exchange<T>>,
}

impl<T: Host> HostCtx<T> {
    /// Init's ctx: log lines go to `scope`.
    pub fn outside_request(scope: T::Scope) -> HostCtx<T> {
        HostCtx {
            scope,
            request: None,
        }
    }

    /// A request's ctx, for the calling thread.
    pub fn for_request(scope: T::Scope, transport: T) -> HostCtx<T> {
        HostCtx {
            scope,
            request: Some(RequestSlot {
                thread: thread::current().id(),
                exchange: UnsafeCell::new(Exchange::new(transport)),
            }),
        }
    }

    /// The pointer handed to the app as `ctx`. The exchange is the app's
    /// until its call returns.
    pub fn as_ctx(&self) -> *mut c_void {
        (self as *const HostCtx<T>).cast_mut().cast()
    }

    /// The exchange, once the app's call has returned.
    pub fn exchange_mut(&mut self) -> Option<&mut Exchange<T>> {
        self.request.as_mut().map(|slot| slot.exchange.get_mut())
    }

    pub fn into_exchange(self) -> Option<Exchange<T>> {
        self.request.map(|slot| slot.exchange.into_inner())
    }
}

/// Loads and initialises the app in `file`, with init's ctx on `scope`.
pub fn load_app<T: Host>(
    file: &Path,
    config: &Pairs,
    scope: T::Scope,
) -> Result<AppInstance, String> {
    let ctx = HostCtx::<T>::outside_request(scope);
    AppInstance::load(file, config, T::api(), ctx.as_ctx())
}

/// Calls the app's handle for the request of `ctx`; returns its result
/// code, for [`Exchange::finish`].
pub fn call_app<T: Host>(
    app: &AppInstance,
    environ: &Pairs,
    config: &Pairs,
    ctx: &HostCtx<T>,
) -> i32 {
    let environ = environ.abi_pairs();
    let config = config.abi_pairs();
    let request = RustgiRequest {
        struct_size: size_of::<RustgiRequest>() as u32,
        abi_version: abi::ABI_VERSION,
        environ: environ.as_ptr(),
        environ_len: environ.len(),
        config: config.as_ptr(),
        config_len: config.len(),
        api: T::api(),
        ctx: ctx.as_ctx(),
    };
    app.handle(&request)
}

const ERROR: i32 = abi::ERROR;

/// Runs a callback's body; a panic (a bug of the host) is logged and turns
/// into `failed`.
fn guard<T: Host, R>(what: &str, failed: R, body: impl FnOnce() -> R) -> R {
    match panic::catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => value,
        Err(payload) => {
            let message = crate::panic_message(payload.as_ref());
            T::log_outside(
                None,
                abi::LOG_CRIT,
                &format!("internal error in the host callback {what}: {message}"),
            );
            failed
        }
    }
}

/// The exchange behind a request's ctx, on the thread that owns it.
///
/// # Safety
/// `ctx` is NULL or a live `HostCtx<T>` given to the app (init's, or that of
/// a request whose handle is still running: the ABI's rule for callbacks).
unsafe fn exchange<'a, T: Host>(ctx: *mut c_void, what: &str) -> Option<&'a mut Exchange<T>> {
    if ctx.is_null() {
        T::log_outside(
            None,
            abi::LOG_ERR,
            &format!("an app called {what} without a request's ctx; refused"),
        );
        return None;
    }
    // SAFETY: ctx is a live HostCtx<T> (caller). The shared reference does
    // not cover the exchange, which is behind an UnsafeCell; the rest is
    // never written while the app runs.
    let host = unsafe { &*ctx.cast::<HostCtx<T>>() };
    let Some(slot) = &host.request else {
        T::log_outside(
            Some(&host.scope),
            abi::LOG_ERR,
            &format!("an app called {what} with init's ctx; refused"),
        );
        return None;
    };
    if slot.thread != thread::current().id() {
        T::log_outside(
            Some(&host.scope),
            abi::LOG_ERR,
            &format!(
                "an app called {what} from a thread other than the one running its handle; refused"
            ),
        );
        return None;
    }
    // SAFETY: on the thread running handle, while handle runs, the host
    // holds no reference to the exchange and callbacks do not nest, so this
    // is the only one.
    Some(unsafe { &mut *slot.exchange.get() })
}

unsafe extern "C" fn read_body<T: Host>(ctx: *mut c_void, buf: *mut u8, len: usize) -> isize {
    guard::<T, _>("read_body", ERROR as isize, || {
        // SAFETY: ctx per the ABI.
        let Some(exchange) = (unsafe { exchange::<T>(ctx, "read_body") }) else {
            return ERROR as isize;
        };
        if buf.is_null() || len == 0 {
            return if len == 0 { 0 } else { ERROR as isize };
        }
        // SAFETY: the app passes a buffer writable for len bytes (ABI).
        exchange.read_body(unsafe { std::slice::from_raw_parts_mut(buf, len) })
    })
}

unsafe extern "C" fn start_response<T: Host>(
    ctx: *mut c_void,
    status: u16,
    headers: *const RustgiPair,
    headers_len: usize,
) -> i32 {
    guard::<T, _>("start_response", ERROR, || {
        // SAFETY: ctx per the ABI.
        let Some(exchange) = (unsafe { exchange::<T>(ctx, "start_response") }) else {
            return ERROR;
        };
        let headers: &[RustgiPair] = if headers.is_null() || headers_len == 0 {
            &[]
        } else {
            // SAFETY: the app passes headers_len pairs at headers (ABI).
            unsafe { std::slice::from_raw_parts(headers, headers_len) }
        };
        exchange.start_response(
            status,
            headers.iter().map(|pair| {
                // SAFETY: the strings of every pair are valid during the
                // call (ABI), and the iterator is used only within it.
                unsafe { (pair.name.as_bytes(), pair.value.as_bytes()) }
            }),
        )
    })
}

unsafe extern "C" fn write<T: Host>(ctx: *mut c_void, buf: *const u8, len: usize) -> i32 {
    guard::<T, _>("write", ERROR, || {
        // SAFETY: ctx per the ABI.
        let Some(exchange) = (unsafe { exchange::<T>(ctx, "write") }) else {
            return ERROR;
        };
        let bytes = if buf.is_null() || len == 0 {
            &[][..]
        } else {
            // SAFETY: the app passes len readable bytes at buf (ABI).
            unsafe { std::slice::from_raw_parts(buf, len) }
        };
        exchange.write(bytes)
    })
}

unsafe extern "C" fn flush<T: Host>(ctx: *mut c_void) -> i32 {
    guard::<T, _>("flush", ERROR, || {
        // SAFETY: ctx per the ABI.
        match unsafe { exchange::<T>(ctx, "flush") } {
            Some(exchange) => exchange.flush(),
            None => ERROR,
        }
    })
}

unsafe extern "C" fn send_file<T: Host>(ctx: *mut c_void, fd: i32, offset: u64, len: u64) -> i32 {
    guard::<T, _>("send_file", ERROR, || {
        // SAFETY: ctx per the ABI.
        let Some(exchange) = (unsafe { exchange::<T>(ctx, "send_file") }) else {
            return ERROR;
        };
        let fd = if fd < 0 {
            None
        } else {
            // SAFETY: the app keeps fd open across the call (ABI); the
            // borrow ends with it (a transport that keeps the file
            // duplicates it).
            Some(unsafe { BorrowedFd::borrow_raw(fd) })
        };
        exchange.send_file(fd, offset, len)
    })
}

unsafe extern "C" fn log_message<T: Host>(
    ctx: *mut c_void,
    level: i32,
    msg: *const c_char,
    len: usize,
) {
    guard::<T, _>("log", (), || {
        let bytes = if msg.is_null() || len == 0 {
            &[][..]
        } else {
            // SAFETY: the app passes len readable bytes at msg (ABI).
            unsafe { std::slice::from_raw_parts(msg.cast::<u8>(), len) }
        };
        let text = String::from_utf8_lossy(bytes);
        let level = level.clamp(abi::LOG_EMERG, MAX_LOG_LEVEL);
        if ctx.is_null() {
            return T::log_outside(None, level, &text);
        }
        // SAFETY: a non-NULL ctx is a live HostCtx<T> (ABI).
        let host = unsafe { &*ctx.cast::<HostCtx<T>>() };
        match &host.request {
            Some(slot) if slot.thread == thread::current().id() => {
                // SAFETY: as in `exchange`: on the handle's thread, while
                // handle runs, this is the only reference.
                let exchange = unsafe { &mut *slot.exchange.get() };
                exchange.transport_mut().log(level, &text);
            }
            // Init's ctx, or a request's from another thread: never filed
            // with the request.
            _ => T::log_outside(Some(&host.scope), level, &text),
        }
    })
}

/// The most detailed level: Apache's `APLOG_TRACE8`.
const MAX_LOG_LEVEL: i32 = 15;
