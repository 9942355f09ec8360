//! Asking the kernel how many connections wait on a group's socket.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use crate::sock_diag::{self, Reply};

/// The number of connections waiting in the backlog of the listening socket
/// bound to `path`, or None when the kernel does not say.
pub fn listen_queue(path: &Path) -> Option<u32> {
    // SAFETY: socket() has no memory preconditions; the descriptor is owned
    // (and closed) by the OwnedFd from here on.
    let fd = unsafe {
        let fd = libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            libc::NETLINK_SOCK_DIAG,
        );
        if fd < 0 {
            return None;
        }
        OwnedFd::from_raw_fd(fd)
    };
    let timeout = libc::timeval {
        tv_sec: 1,
        tv_usec: 0,
    };
    // SAFETY: setsockopt with a valid timeval of the size passed.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&raw const timeout).cast(),
            size_of::<libc::timeval>() as libc::socklen_t,
        );
    }
    let request = sock_diag::request(1);
    // SAFETY: send of a buffer of the given length on our socket; the kernel
    // is the default destination of a netlink socket.
    if unsafe { libc::send(fd.as_raw_fd(), request.as_ptr().cast(), request.len(), 0) } < 0 {
        return None;
    }
    let path = path.as_os_str().as_encoded_bytes();
    let mut found = None;
    let mut buf = vec![0u8; 32 * 1024];
    // A dump of every listening UNIX socket is a handful of buffers.
    for _ in 0..256 {
        // SAFETY: recv into a buffer of the given length.
        let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        let Ok(n) = usize::try_from(n) else {
            return found;
        };
        match sock_diag::scan(&buf[..n], path, &mut found) {
            Reply::More if n > 0 => {}
            Reply::More | Reply::Done | Reply::Error => return found,
        }
    }
    found
}
