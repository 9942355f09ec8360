//! The host API a daemon process gives its apps: the ABI's callbacks on top
//! of a [`Conversation`] with the Apache child.
//!
//! The `ctx` of a request is a [`RequestCtx`] on the worker thread's stack;
//! the `ctx` of init is a static marker. Log lines with init's ctx or a NULL
//! ctx become the daemon's own lines; with a request's ctx they go to the
//! Apache child as LOG frames. No panic leaves a callback.

use std::cell::UnsafeCell;
use std::ffi::{c_char, c_void};
use std::os::fd::BorrowedFd;
use std::panic::{self, AssertUnwindSafe};
use std::thread::{self, ThreadId};

use rustgi_abi::{self as abi, RustgiHostApi, RustgiPair};

use super::log;
use super::request::Conversation;

/// The services a daemon process offers to apps.
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

/// What init's ctx points to; only its address matters.
static INIT_CTX: u8 = 0;

/// The ctx given to apps' init.
pub fn init_ctx() -> *mut c_void {
    (&raw const INIT_CTX).cast_mut().cast()
}

/// The ctx of one request: the conversation, usable only from the thread
/// that runs the app's handle.
pub struct RequestCtx {
    thread: ThreadId,
    conversation: UnsafeCell<Conversation>,
}

impl RequestCtx {
    pub fn new(conversation: Conversation) -> RequestCtx {
        RequestCtx {
            thread: thread::current().id(),
            conversation: UnsafeCell::new(conversation),
        }
    }

    /// The pointer handed to the app as `ctx`. The caller must not touch
    /// the conversation while the app may use it (until handle returns).
    pub fn as_ctx(&self) -> *mut c_void {
        (self as *const RequestCtx).cast_mut().cast()
    }

    pub fn into_inner(self) -> Conversation {
        self.conversation.into_inner()
    }
}

const ERROR: i32 = abi::ERROR;

/// Runs a callback body; a panic (a bug of the daemon) is logged and turns
/// into `failed`.
fn guard<T>(what: &str, failed: T, f: impl FnOnce() -> T) -> T {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(v) => v,
        Err(_) => {
            log::error(&format!("the host callback {what} panicked"));
            failed
        }
    }
}

/// The conversation behind a request ctx, on the thread that owns it.
///
/// # Safety
/// `ctx` is NULL, init's ctx, or the ctx of a request whose handle is still
/// running (the ABI's rule for request callbacks).
unsafe fn conversation<'a>(ctx: *mut c_void, what: &str) -> Option<&'a mut Conversation> {
    if ctx.is_null() || ctx == init_ctx() {
        log::error(&format!(
            "an app called {what} without a request's ctx; refused"
        ));
        return None;
    }
    // SAFETY: ctx is a live RequestCtx (caller); `thread` is never written
    // after creation, and the shared reference does not cover the
    // conversation, which is behind an UnsafeCell.
    let request = unsafe { &*ctx.cast::<RequestCtx>() };
    if request.thread != thread::current().id() {
        log::error(&format!(
            "an app called {what} from a thread other than the one running its handle; refused"
        ));
        return None;
    }
    // SAFETY: on the thread running handle, while handle runs, the worker
    // holds no reference to the conversation, and callbacks do not nest, so
    // this is the only reference.
    Some(unsafe { &mut *request.conversation.get() })
}

unsafe extern "C" fn read_body(ctx: *mut c_void, buf: *mut u8, len: usize) -> isize {
    guard("read_body", ERROR as isize, || {
        // SAFETY: ctx per the ABI.
        let Some(conv) = (unsafe { conversation(ctx, "read_body") }) else {
            return ERROR as isize;
        };
        if buf.is_null() || len == 0 {
            return if len == 0 { 0 } else { ERROR as isize };
        }
        // SAFETY: the app passes a buffer writable for len bytes (ABI).
        conv.read_body(unsafe { std::slice::from_raw_parts_mut(buf, len) })
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
        let Some(conv) = (unsafe { conversation(ctx, "start_response") }) else {
            return ERROR;
        };
        let headers: &[RustgiPair] = if headers.is_null() || headers_len == 0 {
            &[]
        } else {
            // SAFETY: the app passes headers_len pairs at headers (ABI).
            unsafe { std::slice::from_raw_parts(headers, headers_len) }
        };
        let pairs = headers.iter().map(|p| {
            // SAFETY: the strings of every pair are valid during the call
            // (ABI), and the iterator is used only within it.
            unsafe { (p.name.as_bytes(), p.value.as_bytes()) }
        });
        conv.start_response(status, pairs)
    })
}

unsafe extern "C" fn write(ctx: *mut c_void, buf: *const u8, len: usize) -> i32 {
    guard("write", ERROR, || {
        // SAFETY: ctx per the ABI.
        let Some(conv) = (unsafe { conversation(ctx, "write") }) else {
            return ERROR;
        };
        let bytes = if buf.is_null() || len == 0 {
            &[][..]
        } else {
            // SAFETY: the app passes len readable bytes at buf (ABI).
            unsafe { std::slice::from_raw_parts(buf, len) }
        };
        conv.write(bytes)
    })
}

unsafe extern "C" fn flush(ctx: *mut c_void) -> i32 {
    guard("flush", ERROR, || {
        // SAFETY: ctx per the ABI.
        match unsafe { conversation(ctx, "flush") } {
            Some(conv) => conv.flush(),
            None => ERROR,
        }
    })
}

unsafe extern "C" fn send_file(ctx: *mut c_void, fd: i32, offset: u64, len: u64) -> i32 {
    guard("send_file", ERROR, || {
        // SAFETY: ctx per the ABI.
        let Some(conv) = (unsafe { conversation(ctx, "send_file") }) else {
            return ERROR;
        };
        if fd < 0 {
            conv.log(
                log::ERR,
                b"an app called send_file with a negative descriptor; refused",
            );
            return ERROR;
        }
        // SAFETY: the app keeps fd open across the call (ABI); it is only
        // borrowed for the call's length (sendmsg passes the kernel's own
        // reference to the child).
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        conv.send_file(fd, offset, len)
    })
}

unsafe extern "C" fn log_message(ctx: *mut c_void, level: i32, msg: *const c_char, len: usize) {
    guard("log", (), || {
        let bytes = if msg.is_null() || len == 0 {
            &[][..]
        } else {
            // SAFETY: the app passes len readable bytes at msg (ABI).
            unsafe { std::slice::from_raw_parts(msg.cast::<u8>(), len) }
        };
        let level = level.clamp(0, i32::from(log::MAX)) as u8;
        if ctx.is_null() || ctx == init_ctx() {
            return log::log(level, &String::from_utf8_lossy(bytes));
        }
        // SAFETY: a non-NULL ctx other than init's is a live RequestCtx
        // (ABI); conversation checks the thread.
        match unsafe { conversation(ctx, "log") } {
            Some(conv) => conv.log(level, bytes),
            None => log::log(level, &String::from_utf8_lossy(bytes)),
        }
    })
}
