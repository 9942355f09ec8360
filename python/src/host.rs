//! The host's services, as the bridge calls them: the edge where the ABI's
//! raw pointers become safe methods.
//!
//! A WSGI app may keep `wsgi.input` or `start_response` past its request, or
//! hand them to another thread. The ABI allows the request callbacks only on
//! the thread that runs `handle`, while it runs, so [`RequestHost`] checks
//! both before every call and refuses the rest with an error the app sees as
//! a Python exception.

use std::ffi::c_void;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, ThreadId};

use rustgi_abi::{self as abi, RustgiHostApi, RustgiPair, RustgiRequest, SendFileFn};

/// Why a host call did not happen or failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostError {
    /// The request is over, or the caller is not the thread serving it.
    OutsideRequest,
    /// The host refused or failed the call (it logged why).
    Refused,
}

impl std::fmt::Display for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            HostError::OutsideRequest => {
                "the request is over, or this is not the thread serving it"
            }
            HostError::Refused => "the server refused it (see the error log)",
        })
    }
}

/// One request's callbacks.
pub struct RequestHost {
    api: *const RustgiHostApi,
    ctx: *mut c_void,
    /// The host's `send_file`, when it offers one.
    send_file: Option<SendFileFn>,
    thread: ThreadId,
    open: AtomicBool,
}

// SAFETY: the pointers are only dereferenced by `usable` callers, that is on
// the thread running the request's `handle` and before `close`, which is
// exactly where the ABI makes them valid; other threads only read `thread`
// and `open`, which are thread-safe.
unsafe impl Send for RequestHost {}
// SAFETY: as above.
unsafe impl Sync for RequestHost {}

impl RequestHost {
    /// The callbacks of `request`, usable on this thread until [`close`](Self::close).
    pub fn new(request: &RustgiRequest) -> RequestHost {
        // SAFETY: the host's api is valid during handle (ABI); the copy
        // reads only the struct_size it declares, so an older host reads as
        // one without send_file.
        let send_file = unsafe { RustgiHostApi::copy_from(request.api) }
            .ok()
            .and_then(|api| api.send_file);
        RequestHost {
            api: request.api,
            ctx: request.ctx,
            send_file,
            thread: thread::current().id(),
            open: AtomicBool::new(true),
        }
    }

    /// Ends the request: every later call is refused.
    pub fn close(&self) {
        self.open.store(false, Ordering::Release);
    }

    /// Whether this thread may use the request's callbacks now.
    pub fn check(&self) -> Result<(), HostError> {
        self.api().map(|_| ())
    }

    fn api(&self) -> Result<&RustgiHostApi, HostError> {
        if self.open.load(Ordering::Acquire) && thread::current().id() == self.thread {
            // SAFETY: on the thread running handle, before it returned, the
            // host's api is valid (the ABI's rule for request callbacks).
            Ok(unsafe { &*self.api })
        } else {
            Err(HostError::OutsideRequest)
        }
    }

    /// Reads body bytes into `buf`: how many, 0 at the end.
    pub fn read_body(&self, buf: &mut [u8]) -> Result<usize, HostError> {
        let api = self.api()?;
        // SAFETY: buf is writable for its length; ctx is this request's.
        let n = unsafe { (api.read_body)(self.ctx, buf.as_mut_ptr(), buf.len()) };
        usize::try_from(n).map_err(|_| HostError::Refused)
    }

    /// Sets the status and the headers.
    pub fn start_response(
        &self,
        status: u16,
        headers: &[(Vec<u8>, Vec<u8>)],
    ) -> Result<(), HostError> {
        let api = self.api()?;
        let pairs: Vec<RustgiPair> = headers
            .iter()
            .map(|(name, value)| RustgiPair::from_bytes(name, value))
            .collect();
        // SAFETY: pairs and the bytes they point to live across the call.
        let rc = unsafe { (api.start_response)(self.ctx, status, pairs.as_ptr(), pairs.len()) };
        ok(rc)
    }

    /// Writes body bytes.
    pub fn write(&self, data: &[u8]) -> Result<(), HostError> {
        let api = self.api()?;
        // SAFETY: data is readable for its length.
        ok(unsafe { (api.write)(self.ctx, data.as_ptr(), data.len()) })
    }

    /// Whether the host can send a file's bytes itself.
    pub fn offers_send_file(&self) -> bool {
        self.send_file.is_some()
    }

    /// Has the host send `len` bytes of the regular file `file` from
    /// `offset`, without this process reading them.
    pub fn send_file(&self, file: BorrowedFd<'_>, offset: u64, len: u64) -> Result<(), HostError> {
        self.api()?;
        let send_file = self.send_file.ok_or(HostError::Refused)?;
        // SAFETY: checked above: this thread serves the request and it is
        // not over; file stays open across the call.
        ok(unsafe { send_file(self.ctx, file.as_raw_fd(), offset, len) })
    }

    /// Sends what was written to the client now.
    pub fn flush(&self) -> Result<(), HostError> {
        let api = self.api()?;
        // SAFETY: ctx is this request's.
        ok(unsafe { (api.flush)(self.ctx) })
    }

    /// Logs `message` as a line of this request when called where the
    /// request's callbacks may be used, or as a process line otherwise.
    pub fn log(&self, level: i32, message: &str) {
        match self.api() {
            // SAFETY: message is readable for its length.
            Ok(api) => unsafe {
                (api.log)(self.ctx, level, message.as_ptr().cast(), message.len())
            },
            Err(_) => process_log(level, message),
        }
    }
}

fn ok(rc: i32) -> Result<(), HostError> {
    if rc == abi::OK {
        Ok(())
    } else {
        Err(HostError::Refused)
    }
}

/// The host's `log`, callable from any thread between the first `init` and
/// the process's end (the ABI allows it with a NULL ctx).
struct ProcessLog(*const RustgiHostApi);

// SAFETY: the host's api table is immutable and valid until shutdown; its
// log callback with a NULL ctx may be called from any thread.
unsafe impl Send for ProcessLog {}
// SAFETY: as above.
unsafe impl Sync for ProcessLog {}

static PROCESS_LOG: OnceLock<ProcessLog> = OnceLock::new();
static SHUT_DOWN: AtomicBool = AtomicBool::new(false);

/// Remembers the host's services for [`process_log`]; the first init's win
/// (a process has one host).
pub fn set_process_api(api: *const RustgiHostApi) {
    let _ = PROCESS_LOG.set(ProcessLog(api));
}

/// Stops process logging through the host: its services end at shutdown.
pub fn end_process_api() {
    SHUT_DOWN.store(true, Ordering::Release);
}

/// Writes a line to the error log, with no request attached.
pub fn process_log(level: i32, message: &str) {
    match PROCESS_LOG.get() {
        Some(ProcessLog(api)) if !SHUT_DOWN.load(Ordering::Acquire) => {
            // SAFETY: the api stays valid until shutdown (checked above);
            // log with a NULL ctx is allowed from any thread.
            unsafe {
                ((**api).log)(
                    std::ptr::null_mut(),
                    level,
                    message.as_ptr().cast(),
                    message.len(),
                );
            }
        }
        // Before init or after shutdown: stderr is the error log too.
        _ => eprintln!("{message}"),
    }
}
