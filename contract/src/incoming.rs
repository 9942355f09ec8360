//! The read side of a connection to a daemon: it waits for the daemon's
//! frames in `poll` for readable, never asleep in `recv`.
//!
//! A thread asleep in `recv` on a UNIX stream socket is woken by every
//! event on the socket, not only by data: the kernel wakes the socket's
//! sleepers with "writable" each time the peer reads, and so frees, what
//! this side sent. An Apache thread that sent a request and waits for the
//! answer in `recv` is therefore woken, for nothing, the moment the daemon
//! reads the request, and goes back to sleep: when the machine is not busy,
//! two needless context switches per request. A sleeper in `poll` is woken
//! only by the events it asked for.
//!
//! It also keeps the descriptors the daemon passes with FILE frames (see
//! [`crate::passed_fds`]) until the frame claims them.

use std::io::{self, Read};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use crate::passed_fds::Passed;

/// A connection's stream, read with a wait of at most `wait` per read.
pub struct Incoming {
    stream: UnixStream,
    wait: Duration,
    passed: Passed,
}

impl Incoming {
    pub fn new(stream: UnixStream, wait: Duration) -> Incoming {
        Incoming {
            stream,
            wait,
            passed: Passed::default(),
        }
    }

    /// How long a read waits for data before it fails with `TimedOut`.
    pub fn set_wait(&mut self, wait: Duration) {
        self.wait = wait;
    }

    /// The oldest descriptor the peer passed that no frame claimed yet.
    pub fn take_passed(&mut self) -> Option<OwnedFd> {
        self.passed.take()
    }

    /// Whether descriptors the peer passed wait to be claimed.
    pub fn has_passed(&self) -> bool {
        !self.passed.is_empty()
    }

    /// Closes the descriptors no frame claimed.
    pub fn close_passed(&mut self) {
        self.passed.clear();
    }
}

impl Read for Incoming {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        // A wait too long to add to the clock is no limit at all.
        let deadline = Instant::now().checked_add(self.wait);
        loop {
            // Readable means data, the end of the stream or an error: the
            // receive below returns at once with it.
            if !wait_readable(&self.stream, deadline)? {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no answer within {} s", self.wait.as_secs_f64()),
                ));
            }
            match self.passed.receive(&self.stream, buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                result => return result,
            }
        }
    }
}

/// Waits until `stream` is readable or `deadline` (None: no deadline) has
/// passed; false when it has passed.
fn wait_readable(stream: &UnixStream, deadline: Option<Instant>) -> io::Result<bool> {
    loop {
        let timeout = match deadline {
            Some(deadline) => poll_millis(deadline.saturating_duration_since(Instant::now())),
            None => -1,
        };
        let mut fd = libc::pollfd {
            fd: stream.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll on one pollfd that lives across the call, for a
        // descriptor the stream owns.
        let ready = unsafe { libc::poll(&mut fd, 1, timeout) };
        match ready {
            0 => return Ok(false),
            n if n > 0 => return Ok(true),
            _ => {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
}

/// `poll`'s timeout for `wait`: whole milliseconds, rounded up so that a
/// wait never ends early, and bounded to what `poll` takes.
fn poll_millis(wait: Duration) -> libc::c_int {
    let millis = wait.as_nanos().div_ceil(1_000_000);
    libc::c_int::try_from(millis).unwrap_or(libc::c_int::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn poll_timeouts_round_up_to_whole_milliseconds() {
        assert_eq!(poll_millis(Duration::ZERO), 0);
        assert_eq!(poll_millis(Duration::from_nanos(1)), 1);
        assert_eq!(poll_millis(Duration::from_millis(250)), 250);
        assert_eq!(poll_millis(Duration::from_micros(250_001)), 251);
        assert_eq!(poll_millis(Duration::from_secs(u64::MAX)), libc::c_int::MAX);
    }

    #[test]
    fn a_read_returns_what_has_come() {
        let (mut near, far) = UnixStream::pair().unwrap();
        let mut incoming = Incoming::new(far, Duration::from_secs(5));
        near.write_all(b"frame").unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(incoming.read(&mut buf).unwrap(), 5);
        assert_eq!(&buf[..5], b"frame");
    }

    #[test]
    fn a_read_waits_for_data_that_comes_later() {
        let (mut near, far) = UnixStream::pair().unwrap();
        let mut incoming = Incoming::new(far, Duration::from_secs(5));
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            near.write_all(b"late").unwrap();
            near
        });
        let mut buf = [0u8; 16];
        assert_eq!(incoming.read(&mut buf).unwrap(), 4);
        assert_eq!(&buf[..4], b"late");
        writer.join().unwrap();
    }

    #[test]
    fn a_wait_too_long_for_the_clock_is_no_limit() {
        let (mut near, far) = UnixStream::pair().unwrap();
        let mut incoming = Incoming::new(far, Duration::MAX);
        near.write_all(b"x").unwrap();
        assert_eq!(incoming.read(&mut [0u8; 4]).unwrap(), 1);
    }

    #[test]
    fn an_empty_read_does_not_wait() {
        let (_near, far) = UnixStream::pair().unwrap();
        let mut incoming = Incoming::new(far, Duration::from_secs(60));
        assert_eq!(incoming.read(&mut []).unwrap(), 0);
    }

    #[test]
    fn a_read_ends_with_the_stream() {
        let (near, far) = UnixStream::pair().unwrap();
        let mut incoming = Incoming::new(far, Duration::from_secs(5));
        drop(near);
        assert_eq!(incoming.read(&mut [0u8; 16]).unwrap(), 0);
    }

    #[test]
    fn a_read_times_out_after_its_wait() {
        let (_near, far) = UnixStream::pair().unwrap();
        let mut incoming = Incoming::new(far, Duration::from_millis(30));
        let started = Instant::now();
        let e = incoming.read(&mut [0u8; 16]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= Duration::from_millis(30));
        incoming.set_wait(Duration::from_millis(1));
        let e = incoming.read(&mut [0u8; 16]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
    }

    /// Times this thread has gone to sleep (voluntary context switches).
    fn sleeps_of_this_thread() -> i64 {
        let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: getrusage fills the rusage it is given.
        let usage = unsafe {
            assert_eq!(libc::getrusage(libc::RUSAGE_THREAD, usage.as_mut_ptr()), 0);
            usage.assume_init()
        };
        usage.ru_nvcsw
    }

    /// Sends `request` on `stream`, has a peer read it after a pause and
    /// answer after another; returns the answer and how many times this
    /// thread slept waiting for it through `read`.
    fn sleeps_waiting_for_the_answer(
        near: UnixStream,
        far: UnixStream,
        read: impl FnOnce(&mut [u8]) -> io::Result<usize>,
    ) -> (Vec<u8>, i64) {
        (&far).write_all(b"request").unwrap();
        let peer = std::thread::spawn(move || {
            let mut near = near;
            std::thread::sleep(Duration::from_millis(50));
            near.read_exact(&mut [0u8; 7]).unwrap();
            std::thread::sleep(Duration::from_millis(50));
            near.write_all(b"answer").unwrap();
            near
        });
        let mut buf = [0u8; 16];
        let before = sleeps_of_this_thread();
        let n = read(&mut buf).unwrap();
        let sleeps = sleeps_of_this_thread() - before;
        peer.join().unwrap();
        (buf[..n].to_vec(), sleeps)
    }

    #[test]
    fn a_read_sleeps_once_while_the_peer_reads_the_request_then_answers() {
        let (near, far) = UnixStream::pair().unwrap();
        let mut incoming = Incoming::new(far.try_clone().unwrap(), Duration::from_secs(5));
        let (answer, sleeps) = sleeps_waiting_for_the_answer(near, far, |b| incoming.read(b));
        assert_eq!(answer, b"answer");
        // In `recv`, it would be 2: woken when the peer read the request.
        assert_eq!(sleeps, 1, "woken before the answer came");
    }
}
