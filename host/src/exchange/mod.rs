//! One request's exchange with an app, under the rules of the ABI, for every
//! host: an app embedded in an Apache child, an app in a daemon process, and
//! the Apache child relaying a daemon's response.
//!
//! The rules live here once:
//!
//! * the status is 200..=599 and every header passes
//!   [`response_head`](crate::response_head);
//! * `start_response` may be called again until the body starts, and is
//!   refused after;
//! * body bytes (`write`, `flush`, `send_file`) need a status first;
//! * a refused head, or a request body that could not be read, fails the
//!   rest of the request;
//! * an app that returns without a response, or fails, gives a 500 when
//!   nothing was sent, and a response cut short when something was.
//!
//! What a host does with the bytes is its [`Transport`]: brigades and
//! filters in an Apache child, frames on a UNIX socket in a daemon. The
//! [`callbacks`] give apps the ABI's functions over any transport.

#[allow(unsafe_code)]
pub mod callbacks;
#[cfg(test)]
mod tests;

use std::os::fd::BorrowedFd;

use rustgi_abi as abi;

use crate::response_head::{self, HeaderKind};
use rustgi_contract::passed_fds;
use rustgi_contract::protocol::FileRange;

/// A header the app gave, checked, with what it means to the host.
pub type CheckedHeader<'a> = (&'a [u8], &'a [u8], HeaderKind);

/// What a host does with one request's input and output.
///
/// Every method but [`prepare_head`](Transport::prepare_head) is called only
/// once the [`Exchange`] has let the call through; a transport never checks
/// the ABI's rules itself.
pub trait Transport {
    /// The status and headers, kept in the form the host applies them in,
    /// from `start_response` until the body starts.
    type Head;

    /// Who answers, at the start of log lines: `app /srv/a.so`,
    /// `group shop, pid 12`.
    fn label(&self) -> &str;

    /// Reads up to `buf.len()` (at least 1) body bytes: the count, 0 at the
    /// end, or `Err` when the body cannot be read. A failure is the
    /// transport's to remember: see [`input_lost`](Transport::input_lost).
    fn read_body(&mut self, buf: &mut [u8]) -> Result<usize, InputLost>;

    /// Whether the request is lost to the app: its body could not be read,
    /// or the peer that carries it is gone. Every call fails from then on,
    /// and the response is the host's, not the app's.
    fn input_lost(&self) -> bool;

    /// Makes the checked status and headers into a [`Head`](Transport::Head),
    /// or says why the host cannot carry them.
    fn prepare_head(
        &mut self,
        status: u16,
        headers: &[CheckedHeader<'_>],
    ) -> Result<Self::Head, String>;

    /// The body starts: `head` becomes the response's. A peer that is gone
    /// shows on the writes that follow.
    fn begin_body(&mut self, head: Self::Head);

    /// Body bytes, after the head.
    fn write(&mut self, bytes: &[u8]) -> bool;

    /// What was written goes to the client now.
    fn flush(&mut self) -> bool;

    /// `range` of the regular file `file` (checked), after what was written.
    fn send_file(&mut self, file: BorrowedFd<'_>, range: FileRange) -> bool;

    /// A log line of this request, at an ABI level (`abi::LOG_*`).
    fn log(&mut self, level: i32, message: &str);

    /// Whether an app's failure is logged here. A daemon leaves it to the
    /// Apache child, which names the group and the process.
    const LOGS_APP_FAILURES: bool = true;
}

/// The request body cannot be read: the transport knows why, and says so
/// with [`Transport::input_lost`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputLost;

/// How a request ends, decided by [`Exchange::finish`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The response is whole: the host ends it normally.
    Complete,
    /// Nothing was sent: the host answers with an error status.
    Unstarted(Failure),
    /// The body started: the host cuts the response short, so that the
    /// client cannot take it for whole.
    CutShort(Failure),
}

/// Why a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The request body could not be read, or the peer is gone: the
    /// transport knows the status.
    Input,
    /// The app gave a head that was refused, or wrote before giving one.
    Refused,
    /// The app's handle returned an error.
    App,
    /// The app returned without calling `start_response`.
    NoResponse,
}

/// Where the response stands.
#[derive(Debug)]
enum Phase<H> {
    /// No body yet; the head given last, if any.
    Head(Option<H>),
    /// The head is applied and the body goes out.
    Body,
    /// The app broke a rule: every callback fails.
    Refused,
}

/// One request's response, as an app gives it, checked against the ABI's
/// rules before it reaches the transport.
#[derive(Debug)]
pub struct Exchange<T: Transport> {
    transport: T,
    phase: Phase<T::Head>,
}

const OK: i32 = abi::OK;
const ERROR: i32 = abi::ERROR;

impl<T: Transport> Exchange<T> {
    pub fn new(transport: T) -> Exchange<T> {
        Exchange {
            transport,
            phase: Phase::Head(None),
        }
    }

    pub fn transport(&self) -> &T {
        &self.transport
    }

    /// The transport, for what a host does beside the app's calls (reading
    /// the body for a daemon, say).
    pub fn transport_mut(&mut self) -> &mut T {
        &mut self.transport
    }

    pub fn into_transport(self) -> T {
        self.transport
    }

    /// Whether the body started: a failure from now on cuts it short.
    pub fn body_started(&self) -> bool {
        matches!(self.phase, Phase::Body)
    }

    fn refuse(&mut self, why: &str) -> i32 {
        self.phase = Phase::Refused;
        let line = format!("{}: response refused: {why}", self.transport.label());
        self.transport.log(abi::LOG_ERR, &line);
        ERROR
    }

    /// `read_body`: up to `buf.len()` bytes, 0 at the end, or ERROR.
    pub fn read_body(&mut self, buf: &mut [u8]) -> isize {
        if self.transport.input_lost() {
            return ERROR as isize;
        }
        if buf.is_empty() {
            return 0;
        }
        match self.transport.read_body(buf) {
            Ok(n) => isize::try_from(n.min(buf.len())).unwrap_or(ERROR as isize),
            Err(InputLost) => ERROR as isize,
        }
    }

    /// `start_response`: checks the status and headers and keeps them.
    pub fn start_response<'a>(
        &mut self,
        status: u16,
        headers: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
    ) -> i32 {
        if self.transport.input_lost() {
            return ERROR;
        }
        match self.phase {
            Phase::Refused => return ERROR,
            Phase::Body => {
                let line = format!(
                    "{}: start_response after the body started is refused",
                    self.transport.label()
                );
                self.transport.log(abi::LOG_ERR, &line);
                return ERROR;
            }
            Phase::Head(_) => {}
        }
        if let Err(e) = response_head::check_status(status) {
            return self.refuse(&e.to_string());
        }
        let mut checked = Vec::new();
        for (name, value) in headers {
            match response_head::check_header(name, value) {
                Ok(kind) => checked.push((name, value, kind)),
                Err(e) => return self.refuse(&e.to_string()),
            }
        }
        match self.transport.prepare_head(status, &checked) {
            Ok(head) => {
                self.phase = Phase::Head(Some(head));
                OK
            }
            Err(why) => self.refuse(&why),
        }
    }

    /// Starts the body if it has not started; whether body bytes may go.
    fn body(&mut self) -> bool {
        if self.transport.input_lost() {
            return false;
        }
        match std::mem::replace(&mut self.phase, Phase::Body) {
            Phase::Body => true,
            Phase::Head(Some(head)) => {
                self.transport.begin_body(head);
                true
            }
            Phase::Head(None) => {
                self.refuse("the app wrote its body before calling start_response");
                false
            }
            Phase::Refused => {
                self.phase = Phase::Refused;
                false
            }
        }
    }

    /// `write`: body bytes.
    pub fn write(&mut self, bytes: &[u8]) -> i32 {
        if self.body() && self.transport.write(bytes) {
            OK
        } else {
            ERROR
        }
    }

    /// `flush`: what was written goes to the client now.
    pub fn flush(&mut self) -> i32 {
        if self.body() && self.transport.flush() {
            OK
        } else {
            ERROR
        }
    }

    /// `send_file`: `len` bytes from `offset` of the open file `fd`. A file
    /// that cannot be sent is refused without failing the response: nothing
    /// was sent, and the app may write the bytes instead.
    pub fn send_file(&mut self, fd: Option<BorrowedFd<'_>>, offset: u64, len: u64) -> i32 {
        if len == 0 {
            return if self.body() { OK } else { ERROR };
        }
        let Some(fd) = fd else {
            return self.refuse_file("a negative descriptor");
        };
        let range = match passed_fds::checked_range(fd, offset, len) {
            Ok(range) => range,
            Err(why) => return self.refuse_file(&why),
        };
        if self.body() && self.transport.send_file(fd, range) {
            OK
        } else {
            ERROR
        }
    }

    fn refuse_file(&mut self, why: &str) -> i32 {
        let line = format!("{}: send_file refused: {why}", self.transport.label());
        self.transport.log(abi::LOG_ERR, &line);
        ERROR
    }

    /// Decides how the request ends after the app's handle returned `rc`.
    /// A complete response has its body started (an empty body is a body),
    /// so the host only has to end it.
    pub fn finish(&mut self, rc: i32) -> Ending {
        let failure = if self.transport.input_lost() {
            Some(Failure::Input)
        } else if matches!(self.phase, Phase::Refused) {
            Some(Failure::Refused)
        } else if rc != OK {
            Some(Failure::App)
        } else if matches!(self.phase, Phase::Head(None)) {
            Some(Failure::NoResponse)
        } else {
            None
        };
        let started = self.body_started();
        let label = self.transport.label();
        let line = match failure {
            Some(Failure::App) if T::LOGS_APP_FAILURES && started => Some(format!(
                "{label} failed after its response started; the response was cut short"
            )),
            Some(Failure::App) if T::LOGS_APP_FAILURES => {
                Some(format!("{label} failed before it responded"))
            }
            Some(Failure::NoResponse) => {
                Some(format!("{label} returned without calling start_response"))
            }
            _ => None,
        };
        if let Some(line) = line {
            self.transport.log(abi::LOG_ERR, &line);
        }
        match failure {
            Some(failure) if started => Ending::CutShort(failure),
            Some(failure) => Ending::Unstarted(failure),
            None => {
                // A head and no body yet: the body is empty.
                self.body();
                Ending::Complete
            }
        }
    }
}
