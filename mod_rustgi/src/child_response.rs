//! An Apache child's response, as the request path sees it: what it needs
//! beyond the ABI's [`Transport`] (the request body kept for a daemon,
//! `Retry-After`, how a request ends), so that relaying a daemon's answer
//! ([`crate::daemon_client`]) is safe code, tested without Apache.

use std::ffi::c_int;
use std::io::{self, IoSlice};

use rustgi_host::exchange::{Ending, Exchange, Failure, Transport};

/// Apache's `OK`: the handler answered.
pub const HANDLED: c_int = 0;

/// The Apache child's side of a request's response.
pub trait ChildResponse: Transport {
    /// Who answers, for log lines: `group shop`, then `group shop, pid 12`
    /// once the process is known.
    fn set_label(&mut self, label: String);

    /// Whether the request may have a body worth announcing to a daemon.
    fn has_body(&self) -> bool;

    /// When the request started, in microseconds since the epoch.
    fn request_time_us(&self) -> u64;

    /// Reads up to `want` body bytes for a daemon, kept until
    /// [`send_gathered`](ChildResponse::send_gathered): waits for the first
    /// bytes when `wait`, then takes what has come without waiting. The
    /// number of bytes, 0 at the end, a negative number when the body cannot
    /// be read (see [`body_error`](ChildResponse::body_error)), or None when
    /// `wait` is false and nothing has come yet.
    fn gather_body(&mut self, want: usize, wait: bool) -> Option<isize>;

    /// Hands the gathered bytes to `send` (as slices of the host's own
    /// buffers when it can, else copied into `spill`), then frees them.
    fn send_gathered(
        &mut self,
        spill: &mut Vec<u8>,
        send: impl FnOnce(&[IoSlice<'_>]) -> io::Result<()>,
    ) -> io::Result<()>;

    /// The status reading the request body failed with, if it did.
    fn body_error(&self) -> Option<c_int>;

    /// Whether the client went away while the response was sent.
    fn client_gone(&self) -> bool;

    /// `Retry-After`, on error responses too.
    fn set_retry_after(&mut self, seconds: u32);

    /// Carries out `ending` (ends the output, or cuts it short); the
    /// handler's return value.
    fn end(&mut self, ending: Ending) -> c_int;
}

/// Ends the request after the app (or the daemon) returned `rc`; the result
/// is the handler's return value for Apache.
pub fn finish<R: ChildResponse>(response: &mut Exchange<R>, rc: i32) -> c_int {
    let ending = response.finish(rc);
    response.transport_mut().end(ending)
}

/// Ends the request with `status` when the response has not started, or
/// cuts the started response short; logs `why` either way.
pub fn fail<R: ChildResponse>(response: &mut Exchange<R>, status: c_int, why: &str) -> c_int {
    let started = response.body_started();
    let transport = response.transport_mut();
    let line = format!("{}: {why}", transport.label());
    transport.log(rustgi_abi::LOG_ERR, &line);
    if started {
        transport.end(Ending::CutShort(Failure::App))
    } else {
        status
    }
}
