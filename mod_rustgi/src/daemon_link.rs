//! The Apache child's connections to a daemon group's socket: connecting
//! while the group (re)starts, the connections kept between requests, the
//! REQUEST buffer each thread reuses, and the rules that say how a failed
//! read or write is to be read (timed out, or the request never read and
//! so safe to send again). Safe code, tested over real UNIX sockets; the
//! request itself is driven by `ffi/daemon/client.rs`.

use std::cell::Cell;
use std::io::{self, IoSlice, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rustgi_contract::incoming::Incoming;
use rustgi_contract::protocol::{self, FrameReader};

/// Whether a read failed by timing out (rather than the connection ending).
pub fn timed_out(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// The send buffer a connection asks for: a BODY frame of the largest size
/// (`MAX_READ`, the most a READ asks for). Linux's default for a UNIX
/// socket, 208 KiB, is smaller: the Apache thread would wait halfway
/// through each large BODY until the daemon had read the first part,
/// instead of going back to the client for the next piece while the daemon
/// reads (uploads about 15 % faster). The kernel doubles what is asked, for
/// its bookkeeping, within `net.core.wmem_max`. The daemon keeps the
/// default for its own writes: measured the same way, a larger buffer there
/// made downloads about 10 % slower.
pub const SEND_BUFFER: usize = protocol::MAX_READ as usize + protocol::HEADER_LEN;

/// Connects to `socket`, retrying while the group is (re)starting, for up to
/// `timeout`.
pub fn connect(socket: &Path, timeout: Duration) -> io::Result<UnixStream> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(20);
    loop {
        let attempt = socket2::Socket::new(socket2::Domain::UNIX, socket2::Type::STREAM, None)
            .and_then(|s| {
                // A full backlog makes connect wait: bound that wait too.
                s.set_write_timeout(Some(timeout.max(Duration::from_millis(100))))?;
                // Only speed depends on it: a failure is no reason to stop.
                let _ = s.set_send_buffer_size(SEND_BUFFER);
                s.connect(&socket2::SockAddr::unix(socket)?)?;
                Ok(UnixStream::from(std::os::fd::OwnedFd::from(s)))
            });
        match attempt {
            Ok(stream) => return Ok(stream),
            Err(e) => {
                let retry = matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionRefused
                        | io::ErrorKind::NotFound
                        | io::ErrorKind::WouldBlock
                );
                if !retry || Instant::now() + pause > deadline {
                    return Err(e);
                }
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(500));
            }
        }
    }
}

thread_local! {
    /// The REQUEST buffer of this thread's last request, for its next one.
    static REQUEST_BUFFER: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// A request's REQUEST frame, in a buffer that goes back to its thread for
/// the next request when dropped (unless a huge head made it large).
pub struct RequestFrame(pub Vec<u8>);

impl RequestFrame {
    pub fn take() -> RequestFrame {
        let mut buffer = REQUEST_BUFFER.take();
        buffer.clear();
        buffer.reserve(8192);
        RequestFrame(buffer)
    }
}

impl Drop for RequestFrame {
    fn drop(&mut self) {
        if self.0.capacity() <= 64 << 10 {
            REQUEST_BUFFER.set(std::mem::take(&mut self.0));
        }
    }
}

/// A connection to a group's socket: a buffered reader and a writer.
pub struct Connection {
    pub reader: FrameReader<io::BufReader<Incoming>>,
    pub writer: UnixStream,
    /// The daemon process that took its last request (from ACCEPTED).
    pub pid: u32,
}

impl Connection {
    pub fn new(stream: UnixStream, wait: Duration) -> io::Result<Connection> {
        let writer = stream.try_clone()?;
        let pid = 0;
        // Frames are read through a buffer: a small response is one read.
        let incoming = Incoming::new(stream, wait);
        let reader = FrameReader::new(io::BufReader::with_capacity(64 << 10, incoming));
        Ok(Connection {
            reader,
            writer,
            pid,
        })
    }

    /// Sets how long a read may wait for the daemon.
    pub fn set_wait(&mut self, wait: Duration) {
        self.reader.get_mut().get_mut().set_wait(wait);
    }

    /// Whether another request may follow on it: nothing unread is left.
    pub fn is_clean(&self) -> bool {
        self.reader.get_ref().buffer().is_empty() && !self.incoming().has_passed()
    }

    pub fn incoming(&self) -> &Incoming {
        self.reader.get_ref().get_ref()
    }

    /// The descriptor that came with the FILE frame just read.
    pub fn take_passed(&mut self) -> Option<OwnedFd> {
        self.reader.get_mut().get_mut().take_passed()
    }
}

/// Connections kept between requests, per group socket: a request usually
/// finds one and saves a connect and an accept. The daemon closes the ones
/// it will not serve any more (recycling, idle); a request that finds its
/// connection closed before the daemon took it is sent again on a new one.
pub struct Pool {
    kept: Mutex<Vec<(PathBuf, Vec<Connection>)>>,
    /// The most connections kept per socket.
    size: usize,
}

impl Pool {
    pub const fn new(size: usize) -> Pool {
        Pool {
            kept: Mutex::new(Vec::new()),
            size,
        }
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, Vec<(PathBuf, Vec<Connection>)>> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A kept connection to `socket`, if there is one. It is not checked:
    /// one its process has closed (recycled, stopped, idle too long) fails
    /// the request's write with `EPIPE`, and the request goes out again on
    /// a new connection.
    pub fn take(&self, socket: &Path) -> Option<Connection> {
        self.kept().iter_mut().find(|(p, _)| p == socket)?.1.pop()
    }

    /// Keeps `connection` for the next request to `socket`, unless as many
    /// are kept already.
    pub fn put(&self, socket: &Path, connection: Connection) {
        let mut kept = self.kept();
        match kept.iter_mut().find(|(p, _)| p == socket) {
            Some((_, list)) if list.len() < self.size => list.push(connection),
            Some(_) => {}
            None => kept.push((socket.to_path_buf(), vec![connection])),
        }
    }
}

/// How many connections an Apache child keeps per group.
pub const POOL_SIZE: usize = 64;

/// The connections this Apache child keeps.
pub static POOL: Pool = Pool::new(POOL_SIZE);

/// Whether a read before any frame failed because the daemon never read
/// the request: Linux resets a UNIX stream connection, rather than ending
/// it, only when its other end is closed with data unread, and nothing but
/// the request is sent before the daemon's first frame. A process that read
/// the request and died running the app ends the connection instead.
pub fn never_read(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::ConnectionReset
}

/// Writes every slice, in as few system calls as the socket allows.
pub fn write_all_slices(writer: &mut UnixStream, mut slices: &mut [IoSlice<'_>]) -> io::Result<()> {
    while !slices.is_empty() {
        match writer.write_vectored(slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::unix::net::UnixListener;

    fn socket_path(dir: &tempfile::TempDir) -> PathBuf {
        dir.path().join("g.sock")
    }

    #[test]
    fn connect_waits_for_a_group_that_is_starting() {
        let dir = tempfile::tempdir().unwrap();
        let path = socket_path(&dir);
        let binder = {
            let path = path.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(150));
                UnixListener::bind(path).unwrap()
            })
        };
        let stream = connect(&path, Duration::from_secs(5)).expect("connected once it listened");
        let listener = binder.join().unwrap();
        drop(listener.accept().unwrap());
        drop(stream);
    }

    #[test]
    fn connect_gives_up_after_its_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let e = connect(&socket_path(&dir), Duration::from_millis(100)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
    }

    fn connection() -> (Connection, UnixStream) {
        let (near, far) = UnixStream::pair().unwrap();
        (Connection::new(near, Duration::from_secs(5)).unwrap(), far)
    }

    #[test]
    fn the_pool_keeps_connections_per_socket_up_to_its_size() {
        let pool = Pool::new(2);
        let (a, b) = (Path::new("/run/a.sock"), Path::new("/run/b.sock"));
        let mut peers = Vec::new();
        for _ in 0..3 {
            let (c, peer) = connection();
            peers.push(peer);
            pool.put(a, c);
        }
        assert!(pool.take(b).is_none());
        let (c, peer) = connection();
        peers.push(peer);
        pool.put(b, c);
        assert!(pool.take(a).is_some());
        assert!(pool.take(a).is_some());
        assert!(pool.take(a).is_none(), "a third connection was kept");
        assert!(pool.take(b).is_some());
    }

    #[test]
    fn a_connection_with_bytes_left_unread_is_not_clean() {
        let (mut c, mut far) = connection();
        assert!(c.is_clean());
        far.write_all(b"0123456789").unwrap();
        let mut first = [0u8; 1];
        c.reader.get_mut().read_exact(&mut first).unwrap();
        assert!(!c.is_clean(), "nine bytes wait in its buffer");
        let mut rest = [0u8; 9];
        c.reader.get_mut().read_exact(&mut rest).unwrap();
        assert!(c.is_clean());
    }

    #[test]
    fn a_request_the_daemon_never_read_ends_in_a_reset() {
        let dir = tempfile::tempdir().unwrap();
        let path = socket_path(&dir);
        let listener = UnixListener::bind(&path).unwrap();
        let mut c = Connection::new(
            connect(&path, Duration::from_secs(1)).unwrap(),
            Duration::from_secs(5),
        )
        .unwrap();
        c.writer.write_all(b"a request nobody reads").unwrap();
        // The process stops with the request unread.
        drop(listener.accept().unwrap());
        let e = c.reader.read_preface().unwrap_err();
        assert!(never_read(&e), "{e}");

        // One that read it and died ends the stream instead.
        let mut c = Connection::new(
            connect(&path, Duration::from_secs(1)).unwrap(),
            Duration::from_secs(5),
        )
        .unwrap();
        c.writer.write_all(b"a request").unwrap();
        let (mut accepted, _) = listener.accept().unwrap();
        let mut read = [0u8; 9];
        accepted.read_exact(&mut read).unwrap();
        drop(accepted);
        let e = c.reader.read_preface().unwrap_err();
        assert!(!never_read(&e), "{e}");
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn a_read_that_waited_too_long_is_a_timeout() {
        let (mut c, _far) = connection();
        c.set_wait(Duration::from_millis(20));
        let e = c.reader.read_preface().unwrap_err();
        assert!(timed_out(&e), "{e}");
        assert!(!never_read(&e));
    }

    #[test]
    fn every_slice_is_written() {
        let (mut near, mut far) = UnixStream::pair().unwrap();
        let big = vec![7u8; 1 << 20];
        let reader = std::thread::spawn(move || {
            let mut all = Vec::new();
            far.read_to_end(&mut all).unwrap();
            all
        });
        write_all_slices(&mut near, &mut [IoSlice::new(b"head"), IoSlice::new(&big)]).unwrap();
        drop(near);
        let all = reader.join().unwrap();
        assert_eq!(all.len(), 4 + big.len());
        assert_eq!(&all[..4], b"head");
    }

    #[test]
    fn the_request_buffer_goes_back_to_its_thread() {
        let mut frame = RequestFrame::take();
        frame.0.extend_from_slice(&[1; 20_000]);
        let capacity = frame.0.capacity();
        drop(frame);
        let again = RequestFrame::take();
        assert!(again.0.is_empty());
        assert!(again.0.capacity() >= capacity);
    }
}
