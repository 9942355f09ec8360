//! The operating system calls the daemon makes that std does not offer:
//! every `unsafe` block of the daemon is here, each a single libc call (or
//! two) with its buffers owned by the caller's Rust code.

use std::ffi::{CString, c_int};
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};

fn check(rc: c_int) -> io::Result<c_int> {
    if rc == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// Whether `fd` is an open file descriptor.
fn fd_is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only reads the descriptor's flags; any fd number is
    // accepted (EBADF for closed ones).
    unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
}

fn getsockopt_int(fd: BorrowedFd<'_>, option: c_int) -> io::Result<c_int> {
    let mut value: c_int = 0;
    let mut len = size_of::<c_int>() as libc::socklen_t;
    // SAFETY: value and len are valid for writing, len holds value's size.
    check(unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            option,
            (&raw mut value).cast(),
            &mut len,
        )
    })?;
    Ok(value)
}

/// Takes over the inherited listening socket `fd`: checks that it is a
/// listening UNIX stream socket and marks it close-on-exec, so that programs
/// the apps start do not inherit it.
pub fn listener_from_fd(fd: RawFd) -> io::Result<UnixListener> {
    if fd < 3 {
        return Err(io::Error::other(format!(
            "fd {fd} is stdin, stdout or stderr, not a listening socket"
        )));
    }
    if !fd_is_open(fd) {
        return Err(io::Error::other(format!("fd {fd} is not open")));
    }
    // SAFETY: fd is open (checked) and owned by nobody else in this process:
    // it was inherited, and the daemon takes it over once, at startup.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    let fd_ref = owned.as_raw_fd();
    let borrowed = std::os::fd::AsFd::as_fd(&owned);
    let domain = getsockopt_int(borrowed, libc::SO_DOMAIN)
        .map_err(|e| io::Error::other(format!("fd {fd_ref} is not a socket: {e}")))?;
    let kind = getsockopt_int(borrowed, libc::SO_TYPE)?;
    let listening = getsockopt_int(borrowed, libc::SO_ACCEPTCONN)?;
    if domain != libc::AF_UNIX || kind != libc::SOCK_STREAM || listening != 1 {
        // Leave the descriptor to whoever passed it.
        std::mem::forget(owned);
        return Err(io::Error::other(format!(
            "fd {fd} is not a listening UNIX stream socket"
        )));
    }
    // SAFETY: setting FD_CLOEXEC on a descriptor this process owns.
    check(unsafe { libc::fcntl(fd_ref, libc::F_SETFD, libc::FD_CLOEXEC) })?;
    Ok(UnixListener::from(owned))
}

/// Closes every inherited descriptor above stderr except `keep`, so that the
/// daemon holds nothing of its parent's but the socket and the log.
pub fn close_inherited_fds(keep: RawFd) {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<RawFd> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd > 2 && fd != keep)
        .collect();
    // The directory's own descriptor was in the list; it is closed now.
    for fd in fds {
        if fd_is_open(fd) {
            // SAFETY: called at startup, before the daemon opened anything
            // of its own: the descriptor is an inherited one nothing uses.
            unsafe { libc::close(fd) };
        }
    }
}

/// Who is at the other end of a UNIX socket, from SO_PEERCRED.
#[derive(Debug, Clone, Copy)]
pub struct PeerCred {
    pub pid: i32,
    pub uid: u32,
}

pub fn peer_cred(stream: &UnixStream) -> io::Result<PeerCred> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: cred and len are valid for writing; len holds cred's size.
    check(unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&raw mut cred).cast(),
            &mut len,
        )
    })?;
    Ok(PeerCred {
        pid: cred.pid,
        uid: cred.uid,
    })
}

/// An epoll instance on which the idle workers wait together, each for one
/// ready source at a time.
///
/// Every source is watched "one shot": after it is reported to one worker it
/// stays quiet until that worker arms it again, so a connection or the
/// listener never wakes two workers.
pub struct Epoll(OwnedFd);

impl Epoll {
    pub fn new() -> io::Result<Epoll> {
        // SAFETY: epoll_create1 takes no pointers.
        let fd = check(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        // SAFETY: fd was just created and is owned by nothing else.
        Ok(Epoll(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    fn ctl(&self, op: c_int, fd: RawFd, token: u64) -> io::Result<()> {
        let mut event = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLONESHOT) as u32,
            u64: token,
        };
        // SAFETY: event is a valid epoll_event for the duration of the call
        // (the kernel copies it); fd is a descriptor the caller keeps open.
        check(unsafe { libc::epoll_ctl(self.0.as_raw_fd(), op, fd, &mut event) }).map(drop)
    }

    /// Watches `fd` for input (or hang-up), reported once with `token`.
    pub fn add(&self, fd: RawFd, token: u64) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd, token)
    }

    /// Watches `fd`, already added, for one more report.
    pub fn rearm(&self, fd: RawFd, token: u64) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_MOD, fd, token)
    }

    /// Stops watching `fd`.
    pub fn remove(&self, fd: RawFd) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_DEL, fd, 0)
    }

    /// Waits for one ready source: its token, or `None` when a signal
    /// interrupted the wait.
    pub fn wait_one(&self) -> io::Result<Option<u64>> {
        let mut event = MaybeUninit::<libc::epoll_event>::uninit();
        // SAFETY: event has room for the one event maxevents allows.
        let rc = unsafe { libc::epoll_wait(self.0.as_raw_fd(), event.as_mut_ptr(), 1, -1) };
        match check(rc) {
            // SAFETY: the kernel filled the one event it reported.
            Ok(1) => Ok(Some(unsafe { event.assume_init() }.u64)),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Writes what a connected socket takes of `bytes` without waiting: the
/// number written (EAGAIN when its buffer is full).
pub fn send_now(fd: RawFd, bytes: &[u8]) -> io::Result<usize> {
    // SAFETY: bytes is valid for reading for its length during the call; a
    // descriptor that is not an open socket only makes send fail.
    let rc = unsafe {
        libc::send(
            fd,
            bytes.as_ptr().cast(),
            bytes.len(),
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(rc as usize)
}

/// Unblocks `signals` for this thread (and the threads it starts later).
pub fn unblock_signals(signals: &[c_int]) -> io::Result<()> {
    let mut set = MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set; sigaddset and pthread_sigmask
    // read it; the old mask is not asked for (NULL).
    let rc = unsafe {
        libc::sigemptyset(set.as_mut_ptr());
        for &signal in signals {
            libc::sigaddset(set.as_mut_ptr(), signal);
        }
        libc::pthread_sigmask(libc::SIG_UNBLOCK, set.as_ptr(), std::ptr::null_mut())
    };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(())
}

pub fn geteuid() -> u32 {
    // SAFETY: no preconditions, cannot fail.
    unsafe { libc::geteuid() }
}

pub fn getuid() -> u32 {
    // SAFETY: no preconditions, cannot fail.
    unsafe { libc::getuid() }
}

pub fn getppid() -> u32 {
    // SAFETY: no preconditions, cannot fail.
    unsafe { libc::getppid() as u32 }
}

pub fn getgid() -> u32 {
    // SAFETY: no preconditions, cannot fail.
    unsafe { libc::getgid() }
}

/// `initgroups(user, gid)`: the user's supplementary groups plus `gid`.
pub fn initgroups(user: &str, gid: u32) -> io::Result<()> {
    let user = CString::new(user).map_err(io::Error::other)?;
    // SAFETY: user is a NUL-terminated string.
    check(unsafe { libc::initgroups(user.as_ptr(), gid) }).map(drop)
}

/// `setgroups([gid])`: `gid` as the only supplementary group.
pub fn setgroups_only(gid: u32) -> io::Result<()> {
    let groups = [gid];
    // SAFETY: groups holds one gid_t.
    check(unsafe { libc::setgroups(1, groups.as_ptr()) }).map(drop)
}

pub fn setgid(gid: u32) -> io::Result<()> {
    // SAFETY: no memory is involved.
    check(unsafe { libc::setgid(gid) }).map(drop)
}

pub fn setuid(uid: u32) -> io::Result<()> {
    // SAFETY: no memory is involved.
    check(unsafe { libc::setuid(uid) }).map(drop)
}

pub fn set_umask(mask: u32) {
    // SAFETY: no memory is involved; umask cannot fail.
    unsafe { libc::umask(mask as libc::mode_t) };
}

/// Sets the soft RLIMIT_CPU to `seconds` (capped at the hard limit, which
/// stays as it is): past it the kernel sends SIGXCPU every second.
pub fn set_cpu_soft_limit(seconds: u64) -> io::Result<()> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: limit is valid for writing.
    check(unsafe { libc::getrlimit(libc::RLIMIT_CPU, &mut limit) })?;
    limit.rlim_cur = (seconds as libc::rlim_t).min(limit.rlim_max);
    // SAFETY: limit is a valid rlimit.
    check(unsafe { libc::setrlimit(libc::RLIMIT_CPU, &limit) }).map(drop)
}

/// The size of a memory page in bytes.
pub fn page_size() -> u64 {
    // SAFETY: sysconf has no memory preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 { n as u64 } else { 4096 }
}

/// Broken-down local time, as `localtime_r` gives it.
#[derive(Debug, Clone, Copy)]
pub struct LocalTime {
    pub year: i32,
    /// 0..=11
    pub month: u32,
    /// 1..=31
    pub day: u32,
    /// 0 = Sunday
    pub weekday: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

pub fn local_time(unix_seconds: i64) -> Option<LocalTime> {
    let t = unix_seconds as libc::time_t;
    let mut tm = MaybeUninit::<libc::tm>::uninit();
    // SAFETY: t and tm are valid; localtime_r is the thread-safe variant.
    let result = unsafe { libc::localtime_r(&t, tm.as_mut_ptr()) };
    if result.is_null() {
        return None;
    }
    // SAFETY: localtime_r filled tm in (it returned non-NULL).
    let tm = unsafe { tm.assume_init() };
    Some(LocalTime {
        year: tm.tm_year + 1900,
        month: tm.tm_mon as u32,
        day: tm.tm_mday as u32,
        weekday: tm.tm_wday as u32,
        hour: tm.tm_hour as u32,
        minute: tm.tm_min as u32,
        second: tm.tm_sec as u32,
    })
}

/// The number of threads of this process, from /proc.
fn thread_count() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
}

/// Sets environment variables while the process has a single thread (the
/// only time that is sound); fails otherwise.
pub fn set_env_single_threaded<'a>(
    vars: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<(), String> {
    if thread_count() != Some(1) {
        return Err("the environment can only be set while the daemon has one thread".into());
    }
    for (name, value) in vars {
        if name.is_empty() || name.contains(['=', '\0']) || value.contains('\0') {
            return Err(format!("invalid environment variable {name:?}"));
        }
        // SAFETY: the process has one thread (checked above, and this
        // function spawns none), so nothing reads the environment meanwhile.
        unsafe { std::env::set_var(name, value) };
    }
    Ok(())
}

/// Ends the process at once, without running atexit handlers or
/// destructors: for exits while app code may still run on other threads.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit has no preconditions; it does not return.
    unsafe { libc::_exit(code) }
}
