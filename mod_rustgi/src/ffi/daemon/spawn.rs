//! Starting a daemon process: fork, then exec the `rustgi-daemon` executable.
//!
//! Exec gives the daemon a clean process image: it inherits none of Apache's
//! pools, mutexes, signal handlers, listeners or threads — only the group's
//! listening socket (as fd 3), /dev/null as stdin, and Apache's error log as
//! stdout and stderr. Forking without exec, as mod_wsgi does, leaves a copy of
//! the whole Apache parent in every daemon, which its author calls the source
//! of its hardest crashes. Between fork and exec the child only makes
//! async-signal-safe system calls; everything it needs is prepared before.

use std::ffi::{CString, c_char};
use std::io;
use std::os::fd::RawFd;
use std::ptr;

use crate::supervision::generation::LISTEN_FD;

/// Everything the child needs, prepared before fork.
pub struct SpawnPlan {
    exe: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
    listener: RawFd,
}

impl SpawnPlan {
    /// `argv[0]` is the process title `ps` shows.
    pub fn new(
        exe: &str,
        title: &str,
        args: &[String],
        env: &[(String, String)],
        listener: RawFd,
    ) -> io::Result<Self> {
        let cstring = |s: &str| {
            CString::new(s).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{s:?} holds a NUL byte"),
                )
            })
        };
        let mut argv = vec![cstring(title)?];
        for arg in args {
            argv.push(cstring(arg)?);
        }
        let envp = env
            .iter()
            .map(|(k, v)| cstring(&format!("{k}={v}")))
            .collect::<io::Result<Vec<_>>>()?;
        Ok(Self {
            exe: cstring(exe)?,
            argv,
            envp,
            listener,
        })
    }

    /// Forks and execs; returns the child's pid.
    pub fn spawn(&self) -> io::Result<libc::pid_t> {
        let argv: Vec<*const c_char> = self
            .argv
            .iter()
            .map(|a| a.as_ptr())
            .chain([ptr::null()])
            .collect();
        let envp: Vec<*const c_char> = self
            .envp
            .iter()
            .map(|e| e.as_ptr())
            .chain([ptr::null()])
            .collect();
        // SAFETY: open with a NUL-terminated literal path.
        let devnull = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
        if devnull < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fork has no preconditions; the child below only calls
        // async-signal-safe functions on memory prepared before the fork.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: in the child; see exec_child.
            unsafe { exec_child(self.exe.as_ptr(), &argv, &envp, self.listener, devnull) }
        }
        let fork_error = io::Error::last_os_error();
        // SAFETY: devnull is our descriptor, not used after this.
        unsafe { libc::close(devnull) };
        if pid < 0 { Err(fork_error) } else { Ok(pid) }
    }
}

/// Sets up the child's descriptors and signals, then execs. Never returns.
///
/// # Safety
/// Only to be called in a freshly forked child; `argv` and `envp` are
/// NULL-terminated arrays of C strings.
unsafe fn exec_child(
    exe: *const c_char,
    argv: &[*const c_char],
    envp: &[*const c_char],
    listener: RawFd,
    devnull: RawFd,
) -> ! {
    // SAFETY: each call below is async-signal-safe and acts on this process
    // only; the pointers are valid (prepared before fork).
    unsafe {
        // The listener to fd 3 (dup2 clears close-on-exec; if it already is
        // fd 3, clear the flag by hand).
        if listener == LISTEN_FD {
            libc::fcntl(LISTEN_FD, libc::F_SETFD, 0);
        } else if libc::dup2(listener, LISTEN_FD) < 0 {
            fail(b"rustgi: cannot set up the daemon's socket\n");
        }
        libc::dup2(devnull, 0);
        // Apache's error log is the parent's stderr: stdout goes there too.
        libc::dup2(2, 1);
        // Nothing else crosses exec: close every other descriptor.
        if libc::syscall(libc::SYS_close_range, 4u32, u32::MAX, 0u32) != 0 {
            let max = match libc::sysconf(libc::_SC_OPEN_MAX) {
                n if n > 0 => n.min(65536) as RawFd,
                _ => 1024,
            };
            for fd in 4..max {
                libc::close(fd);
            }
        }
        // Apache blocks and ignores signals the daemon needs. SIGUSR1 (stop
        // gracefully) and SIGHUP stay blocked across exec, until the daemon
        // handles them: one sent by a graceful restart just after the fork
        // waits for the handler instead of killing a process that has not
        // set it up yet.
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGUSR1);
        libc::sigaddset(&mut set, libc::SIGHUP);
        libc::sigprocmask(libc::SIG_SETMASK, &set, ptr::null_mut());
        for signal in [
            libc::SIGPIPE,
            libc::SIGHUP,
            libc::SIGTERM,
            libc::SIGINT,
            libc::SIGUSR1,
            libc::SIGUSR2,
            libc::SIGCHLD,
            libc::SIGXCPU,
        ] {
            libc::signal(signal, libc::SIG_DFL);
        }
        libc::execve(exe, argv.as_ptr(), envp.as_ptr());
        fail(b"rustgi: cannot execute the daemon executable\n")
    }
}

/// Writes a message to stderr and exits, without touching anything that
/// could be locked after fork.
fn fail(message: &[u8]) -> ! {
    // SAFETY: write and _exit are async-signal-safe.
    unsafe {
        libc::write(2, message.as_ptr().cast(), message.len());
        libc::_exit(127)
    }
}
