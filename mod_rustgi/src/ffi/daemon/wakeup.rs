//! Apache's parent notices a dead daemon process at once, not on its next
//! one-second tick: between its checks for ended children it sleeps, and a
//! SIGCHLD with a handler (one that does nothing) cuts that sleep short. The
//! replacement then starts as soon as its predecessor has left, so a group
//! with `maximum-requests=1` does not wait a second per request.
//!
//! Installed only where SIGCHLD had its default disposition (never over
//! another module's handler), and taken back in Apache's children, which
//! inherit it and do not need it.

use std::ffi::c_int;

/// Does nothing: its only effect is to interrupt the parent's sleep.
extern "C" fn child_ended(_signal: c_int) {}

/// Installs the handler in Apache's parent, unless SIGCHLD is handled or
/// ignored already.
pub fn install_in_parent() {
    // SAFETY: sigaction with a NULL new action only reads the current one
    // into a zeroed struct, which is a valid out-parameter.
    let current = unsafe {
        let mut current: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(libc::SIGCHLD, std::ptr::null(), &mut current) != 0 {
            return;
        }
        current
    };
    if current.sa_sigaction != libc::SIG_DFL {
        return;
    }
    // SAFETY: the action is fully initialised (zeroed, an empty mask, a
    // handler that is async-signal-safe because it does nothing). No
    // SA_RESTART: interrupting the sleep is the point, and the parent's
    // other calls retry on EINTR (APR's do).
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = child_ended as extern "C" fn(c_int) as libc::sighandler_t;
        libc::sigemptyset(&mut action.sa_mask);
        action.sa_flags = libc::SA_NOCLDSTOP;
        libc::sigaction(libc::SIGCHLD, &action, std::ptr::null_mut());
    }
}

/// In an Apache child: gives SIGCHLD its default disposition back, if the
/// handler is this module's.
pub fn remove_in_child() {
    // SAFETY: as in install_in_parent; the default action is valid.
    unsafe {
        let mut current: libc::sigaction = std::mem::zeroed();
        if libc::sigaction(libc::SIGCHLD, std::ptr::null(), &mut current) != 0 {
            return;
        }
        if current.sa_sigaction == child_ended as extern "C" fn(c_int) as libc::sighandler_t {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = libc::SIG_DFL;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(libc::SIGCHLD, &action, std::ptr::null_mut());
        }
    }
}
