//! Descriptors passed over a UNIX stream connection (`SCM_RIGHTS`): how the
//! daemon hands the Apache child an open file for a FILE frame, so that the
//! file's bytes never pass through the daemon.
//!
//! The sender attaches the descriptor to the first byte of the frame.
//! Linux delivers passed descriptors with the receive that reads the bytes
//! they were sent with, and ends that receive there, so a reader that keeps
//! every descriptor it receives, in order, has a FILE frame's descriptor
//! by the time it has read the frame's first byte.
//!
//! Received descriptors are close-on-exec from the start and owned at once
//! ([`OwnedFd`]): whatever a peer sends, none is leaked.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

use crate::protocol::FileRange;

/// The most descriptors one receive takes, and the most a reader keeps
/// before a frame claims them. The protocol sends one per FILE frame and a
/// reader claims each as it decodes the frame, so more than this is a peer
/// breaking the protocol.
pub const MAX_PASSED: usize = 4;

/// Sends `bytes` on `stream` with `fd` attached to the first of them; the
/// descriptor stays open on this side. Sends every byte (the rest without
/// the descriptor, should the first send be short); waits within the
/// stream's write timeout.
pub fn send_with_fd(stream: &UnixStream, bytes: &[u8], fd: BorrowedFd<'_>) -> io::Result<()> {
    if bytes.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a descriptor must be sent with at least one byte",
        ));
    }
    let sent = loop {
        match send_once(stream, bytes, fd.as_raw_fd()) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => break other?,
        }
    };
    io::Write::write_all(&mut &*stream, &bytes[sent..])
}

/// The range of `len` bytes at `offset` of the file open at `fd`, checked
/// as every side checks a file it sends: a regular file (not a pipe, a
/// socket or a device, which have no fixed bytes to send), and the range
/// within its current size. `len` must be at least 1.
pub fn checked_range(fd: BorrowedFd<'_>, offset: u64, len: u64) -> Result<FileRange, String> {
    let range = FileRange::new(offset, len).map_err(|e| e.to_string())?;
    let mut stat = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat fills the stat it is given, for a descriptor the
    // caller keeps open across the call.
    let rc = unsafe { libc::fstat(fd.as_raw_fd(), stat.as_mut_ptr()) };
    if rc != 0 {
        return Err(format!(
            "descriptor {} cannot be examined: {}",
            fd.as_raw_fd(),
            io::Error::last_os_error()
        ));
    }
    // SAFETY: fstat succeeded, so it filled the struct.
    let stat = unsafe { stat.assume_init() };
    if stat.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(format!(
            "descriptor {} is not a regular file",
            fd.as_raw_fd()
        ));
    }
    let size = u64::try_from(stat.st_size).unwrap_or(0);
    if range.offset + range.length > size {
        return Err(format!(
            "the range of {} bytes at offset {} passes the end of the {size}-byte file",
            range.length, range.offset
        ));
    }
    Ok(range)
}

/// The space a control message of `fds` descriptors takes.
fn control_space(fds: usize) -> usize {
    let data = u32::try_from(fds * size_of::<RawFd>()).unwrap_or(u32::MAX);
    // SAFETY: CMSG_SPACE is arithmetic on its argument.
    unsafe { libc::CMSG_SPACE(data) as usize }
}

/// A control buffer aligned for `cmsghdr`, large enough for [`MAX_PASSED`]
/// descriptors.
#[repr(C, align(8))]
struct ControlBuffer([u8; 64]);

fn send_once(stream: &UnixStream, bytes: &[u8], fd: RawFd) -> io::Result<usize> {
    let mut control = ControlBuffer([0; 64]);
    let space = control_space(1);
    debug_assert!(space <= control.0.len());
    let mut iov = libc::iovec {
        iov_base: bytes.as_ptr().cast_mut().cast(),
        iov_len: bytes.len(),
    };
    // SAFETY: msghdr is plain data, valid when zeroed.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.0.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: msg points to the control buffer, which has room for one
    // cmsghdr with one descriptor (space, checked above), so FIRSTHDR is
    // not NULL and DATA points to room for a RawFd inside the buffer.
    // sendmsg only reads iov's bytes, which live across the call.
    let sent = unsafe {
        let header = libc::CMSG_FIRSTHDR(&msg);
        (*header).cmsg_level = libc::SOL_SOCKET;
        (*header).cmsg_type = libc::SCM_RIGHTS;
        (*header).cmsg_len = libc::CMSG_LEN(size_of::<RawFd>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(header).cast::<RawFd>(), fd);
        libc::sendmsg(stream.as_raw_fd(), &msg, libc::MSG_NOSIGNAL)
    };
    usize::try_from(sent).map_err(|_| io::Error::last_os_error())
}

/// The descriptors a reader received and no frame has claimed yet.
#[derive(Debug, Default)]
pub struct Passed {
    fds: VecDeque<OwnedFd>,
}

impl Passed {
    /// Receives once from `stream` into `buf` without waiting (`flags` are
    /// added to `MSG_DONTWAIT`), keeping the descriptors that came with the
    /// bytes. A peer that passes more than [`MAX_PASSED`] unclaimed
    /// descriptors gets an `InvalidData` error (and none is kept open).
    pub fn receive(&mut self, stream: &UnixStream, buf: &mut [u8]) -> io::Result<usize> {
        let mut control = ControlBuffer([0; 64]);
        let space = control_space(MAX_PASSED);
        debug_assert!(space <= control.0.len());
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: msghdr is plain data, valid when zeroed.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.0.as_mut_ptr().cast();
        msg.msg_controllen = space as _;
        // SAFETY: recvmsg writes at most buf.len() bytes into buf and at
        // most msg_controllen bytes into the control buffer, both valid
        // for writes during the call.
        let n = unsafe {
            libc::recvmsg(
                stream.as_raw_fd(),
                &mut msg,
                libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC,
            )
        };
        let n = usize::try_from(n).map_err(|_| io::Error::last_os_error())?;
        let received = self.keep(&msg);
        if msg.msg_flags & libc::MSG_CTRUNC != 0 {
            // The kernel closed what did not fit; what did is closed below.
            self.fds.clear();
            return Err(too_many());
        }
        received?;
        Ok(n)
    }

    /// Takes ownership of every descriptor in `msg`'s control messages.
    fn keep(&mut self, msg: &libc::msghdr) -> io::Result<()> {
        let mut over = false;
        // SAFETY: msg was filled by recvmsg: its control buffer holds
        // msg_controllen bytes of well-formed control messages, which the
        // CMSG_* macros walk without leaving it. Each SCM_RIGHTS message
        // holds (cmsg_len - CMSG_LEN(0)) / 4 descriptors that this process
        // now owns and nothing else refers to.
        unsafe {
            let mut header = libc::CMSG_FIRSTHDR(msg);
            while !header.is_null() {
                if (*header).cmsg_level == libc::SOL_SOCKET
                    && (*header).cmsg_type == libc::SCM_RIGHTS
                {
                    let data_len =
                        ((*header).cmsg_len as usize).saturating_sub(libc::CMSG_LEN(0) as usize);
                    let data = libc::CMSG_DATA(header).cast::<RawFd>();
                    for i in 0..data_len / size_of::<RawFd>() {
                        let fd = OwnedFd::from_raw_fd(std::ptr::read_unaligned(data.add(i)));
                        if self.fds.len() < MAX_PASSED {
                            self.fds.push_back(fd);
                        } else {
                            over = true;
                        }
                    }
                }
                header = libc::CMSG_NXTHDR(msg, header);
            }
        }
        if over {
            self.fds.clear();
            return Err(too_many());
        }
        Ok(())
    }

    /// The oldest descriptor no frame has claimed, if there is one.
    pub fn take(&mut self) -> Option<OwnedFd> {
        self.fds.pop_front()
    }

    /// How many descriptors wait to be claimed.
    pub fn len(&self) -> usize {
        self.fds.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fds.is_empty()
    }

    /// Closes every descriptor not claimed.
    pub fn clear(&mut self) {
        self.fds.clear();
    }
}

fn too_many() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("the peer passed more than {MAX_PASSED} descriptors no FILE frame claimed"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Seek, Write};
    use std::os::fd::AsFd;

    /// How many of this process's descriptors refer to `path` (counting
    /// all descriptors would race with the tests running beside).
    fn fds_of(path: &std::path::Path) -> usize {
        std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
            .filter(|target| target == path)
            .count()
    }

    fn receive_all(passed: &mut Passed, stream: &UnixStream, want: usize) -> Vec<u8> {
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        while got.len() < want {
            match passed.receive(stream, &mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::yield_now(),
                Err(e) => panic!("{e}"),
            }
        }
        got
    }

    #[test]
    fn a_passed_file_arrives_with_its_bytes_and_reads_the_same() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"the file's bytes").unwrap();
        let (near, far) = UnixStream::pair().unwrap();
        near.set_nonblocking(false).unwrap();
        send_with_fd(&near, b"before", file.as_fd()).unwrap();
        (&near).write_all(b"-after").unwrap();
        let mut passed = Passed::default();
        let got = receive_all(&mut passed, &far, 12);
        assert_eq!(got, b"before-after");
        let received = passed.take().expect("a descriptor came with the bytes");
        assert!(passed.take().is_none());
        let mut copy = std::fs::File::from(received);
        copy.rewind().unwrap();
        let mut text = String::new();
        copy.read_to_string(&mut text).unwrap();
        assert_eq!(text, "the file's bytes");
        // SAFETY: fcntl F_GETFD on a descriptor this test owns.
        let flags = unsafe { libc::fcntl(copy.as_raw_fd(), libc::F_GETFD) };
        assert_ne!(
            flags & libc::FD_CLOEXEC,
            0,
            "received descriptors are close-on-exec"
        );
    }

    #[test]
    fn descriptors_arrive_in_the_order_they_were_sent() {
        let (near, far) = UnixStream::pair().unwrap();
        let files: Vec<_> = (0..3)
            .map(|i| {
                let mut f = tempfile::tempfile().unwrap();
                f.write_all(format!("file {i}").as_bytes()).unwrap();
                f
            })
            .collect();
        for f in &files {
            send_with_fd(&near, b"F", f.as_fd()).unwrap();
        }
        let mut passed = Passed::default();
        assert_eq!(receive_all(&mut passed, &far, 3), b"FFF");
        for i in 0..3 {
            let mut f = std::fs::File::from(passed.take().unwrap());
            f.rewind().unwrap();
            let mut text = String::new();
            f.read_to_string(&mut text).unwrap();
            assert_eq!(text, format!("file {i}"));
        }
    }

    #[test]
    fn a_peer_passing_too_many_descriptors_is_refused_and_none_leaks() {
        let (near, far) = UnixStream::pair().unwrap();
        let named = tempfile::NamedTempFile::new().unwrap();
        let file = named.as_file();
        assert_eq!(fds_of(named.path()), 1);
        for _ in 0..MAX_PASSED + 2 {
            send_with_fd(&near, b"F", file.as_fd()).unwrap();
        }
        let mut passed = Passed::default();
        let mut buf = [0u8; 1];
        let mut refused = false;
        for _ in 0..MAX_PASSED + 2 {
            match passed.receive(&far, &mut buf) {
                Ok(_) => {}
                Err(e) => {
                    assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
                    refused = true;
                    break;
                }
            }
        }
        assert!(
            refused,
            "more than {MAX_PASSED} unclaimed descriptors were kept"
        );
        assert!(passed.is_empty());
        drop(far);
        drop(near);
        assert_eq!(fds_of(named.path()), 1, "a passed descriptor was left open");
    }

    #[test]
    fn only_ranges_within_regular_files_pass() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&[7; 100]).unwrap();
        let fd = file.as_fd();
        assert_eq!(
            checked_range(fd, 0, 100).unwrap(),
            FileRange::new(0, 100).unwrap()
        );
        assert!(checked_range(fd, 99, 1).is_ok());
        let past = checked_range(fd, 50, 51).unwrap_err();
        assert!(
            past.contains("passes the end of the 100-byte file"),
            "{past}"
        );
        assert!(checked_range(fd, 0, 0).is_err());
        assert!(checked_range(fd, u64::MAX, 2).is_err());
        let (socket, _peer) = UnixStream::pair().unwrap();
        let why = checked_range(socket.as_fd(), 0, 1).unwrap_err();
        assert!(why.contains("not a regular file"), "{why}");
    }

    #[test]
    fn sending_a_descriptor_needs_a_byte() {
        let (near, _far) = UnixStream::pair().unwrap();
        let file = tempfile::tempfile().unwrap();
        let e = send_with_fd(&near, b"", file.as_fd()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    }
}
