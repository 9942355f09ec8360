//! When a request's ACCEPTED goes out.
//!
//! ACCEPTED tells the Apache child that a worker took its request: from then
//! on the request is never sent again, and the child waits for it under
//! request-timeout rather than queue-timeout. Sent on its own it would wake
//! the child's thread once more per request, so it travels with the
//! request's first frame (a fast app's whole response, or its first READ).
//! Only for an app that writes nothing for a while does the monitor thread
//! send it alone ([`Acceptance::send_if_silent`]).
//!
//! The child's rule for sending a request again does not depend on
//! ACCEPTED: it does so only when the connection is reset before any frame,
//! which Linux reports only when the daemon closed it with the request
//! unread (see docs/protocol.md).

use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::sys;
use rustgi_contract::protocol;

/// How long an app may be silent before the monitor sends its ACCEPTED;
/// also how often the monitor looks, so it goes out at most twice that
/// after the request was taken.
pub const SILENCE: Duration = Duration::from_millis(250);

#[derive(Debug)]
enum State {
    /// No request, or its frames went out.
    Idle,
    /// A worker runs a request on `fd`; ACCEPTED (after the preface when
    /// `preface`) has not been written, or only `sent` bytes of it.
    Pending {
        fd: RawFd,
        preface: bool,
        since: Instant,
        sent: usize,
    },
}

/// The ACCEPTED of the request a worker thread runs.
#[derive(Debug)]
pub struct Acceptance {
    pid: u32,
    state: Mutex<State>,
}

impl Acceptance {
    pub fn new(pid: u32) -> Acceptance {
        Acceptance {
            pid,
            state: Mutex::new(State::Idle),
        }
    }

    /// The preface (on a new connection) and ACCEPTED, as this process
    /// sends them.
    pub fn frames(&self, preface: bool) -> Vec<u8> {
        let mut out = Vec::with_capacity(protocol::PREFACE_LEN + protocol::ACCEPTED_LEN);
        self.encode_frames(&mut out, preface);
        out
    }

    /// Appends [`Acceptance::frames`] to `out`.
    pub fn encode_frames(&self, out: &mut Vec<u8>, preface: bool) {
        if preface {
            out.extend_from_slice(&protocol::preface());
        }
        protocol::encode_accepted(out, self.pid);
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A request on `connection` starts: until the returned [`Armed`] is
    /// claimed or dropped, the monitor may send its ACCEPTED (after the
    /// preface when `preface`). Drop the `Armed` before the connection.
    pub fn arm(&'static self, connection: BorrowedFd<'_>, preface: bool) -> Armed {
        *self.state() = State::Pending {
            fd: connection.as_raw_fd(),
            preface,
            since: Instant::now(),
            sent: 0,
        };
        Armed {
            acceptance: self,
            preface,
            claimed: false,
        }
    }

    /// How many bytes of the frames the monitor sent; it leaves the
    /// connection alone from now on.
    fn claim(&self) -> usize {
        match std::mem::replace(&mut *self.state(), State::Idle) {
            State::Idle => 0,
            State::Pending { sent, .. } => sent,
        }
    }

    /// For the monitor thread: sends the ACCEPTED of a request whose app has
    /// written nothing for [`SILENCE`], so that its child waits for it under
    /// request-timeout. A full socket buffer (which a silent request cannot
    /// have) leaves the rest to the worker.
    pub fn send_if_silent(&self) {
        let mut state = self.state();
        let State::Pending {
            fd,
            preface,
            since,
            sent,
        } = &mut *state
        else {
            return;
        };
        if since.elapsed() < SILENCE {
            return;
        }
        let frames = self.frames(*preface);
        if *sent >= frames.len() {
            return;
        }
        // The lock is held: the worker cannot claim, so cannot close or
        // write to the connection, until this write is over.
        if let Ok(n) = sys::send_now(*fd, &frames[*sent..]) {
            *sent += n;
        }
    }
}

/// A worker's request whose ACCEPTED the monitor may send, until
/// [`Armed::claim`]; dropping it claims too, so a worker that unwinds
/// leaves no descriptor behind for the monitor (declare it after the
/// connection, which is then dropped after it).
#[derive(Debug)]
pub struct Armed {
    acceptance: &'static Acceptance,
    preface: bool,
    claimed: bool,
}

impl Armed {
    /// Appends the preface (on a new connection) and ACCEPTED to `out`.
    pub fn encode_frames(&self, out: &mut Vec<u8>) {
        self.acceptance.encode_frames(out, self.preface);
    }

    /// Before the worker's first write: how many bytes of the frames
    /// [`Armed::encode_frames`] appends the monitor sent already (0 in the
    /// usual case; all of them when it sent them). The monitor leaves the
    /// connection alone from now on.
    pub fn claim(mut self) -> usize {
        self.claimed = true;
        self.acceptance.claim().min(self.frames_len())
    }

    /// The length of the frames.
    pub fn frames_len(&self) -> usize {
        protocol::ACCEPTED_LEN
            + if self.preface {
                protocol::PREFACE_LEN
            } else {
                0
            }
    }
}

impl Drop for Armed {
    fn drop(&mut self) {
        if !self.claimed {
            self.acceptance.claim();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustgi_contract::protocol::{FrameReader, Kind};
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;

    fn acceptance() -> &'static Acceptance {
        Box::leak(Box::new(Acceptance::new(42)))
    }

    #[test]
    fn the_worker_sends_it_unless_the_app_was_silent() {
        let (daemon, child) = UnixStream::pair().unwrap();
        let acceptance = acceptance();
        let armed = acceptance.arm(daemon.as_fd(), true);
        // A young request: nothing is sent for it.
        acceptance.send_if_silent();
        assert_eq!(armed.claim(), 0);
        // Claimed: the monitor leaves it alone, however old.
        std::thread::sleep(SILENCE);
        acceptance.send_if_silent();
        assert_nothing_sent(&child);
    }

    #[test]
    fn dropping_it_claims_it() {
        let (daemon, child) = UnixStream::pair().unwrap();
        let acceptance = acceptance();
        drop(acceptance.arm(daemon.as_fd(), false));
        std::thread::sleep(SILENCE);
        acceptance.send_if_silent();
        assert_nothing_sent(&child);
    }

    /// Nothing came to the child's end of the connection.
    fn assert_nothing_sent(child: &UnixStream) {
        child.set_nonblocking(true).unwrap();
        let read = std::io::Read::read(&mut &*child, &mut [0; 1]);
        assert_eq!(
            read.map_err(|e| e.kind()),
            Err(std::io::ErrorKind::WouldBlock)
        );
    }

    #[test]
    fn the_monitor_sends_it_once_for_a_silent_app() {
        let (daemon, child) = UnixStream::pair().unwrap();
        let acceptance = acceptance();
        let armed = acceptance.arm(daemon.as_fd(), true);
        std::thread::sleep(SILENCE + Duration::from_millis(50));
        acceptance.send_if_silent();
        acceptance.send_if_silent();
        let whole = acceptance.frames(true).len();
        assert_eq!(armed.frames_len(), whole);
        assert_eq!(armed.claim(), whole);
        drop(daemon);
        let mut reader = FrameReader::new(child);
        reader.read_preface().unwrap();
        let (kind, payload) = reader.read_frame().unwrap();
        assert_eq!(kind, Kind::Accepted);
        assert_eq!(protocol::decode_accepted(payload), Ok(42));
        // Once only: the connection ends after it.
        assert!(reader.read_frame().is_err());
    }

    #[test]
    fn a_kept_connection_gets_no_preface() {
        let acceptance = Acceptance::new(7);
        assert_eq!(acceptance.frames(false).len(), protocol::ACCEPTED_LEN);
        assert_eq!(
            acceptance.frames(true).len(),
            protocol::PREFACE_LEN + protocol::ACCEPTED_LEN
        );
    }
}
