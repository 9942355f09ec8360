//! Facts about processes from `/proc`, and signals.

use std::fs;
use std::io;

/// The name of the daemon executable, beside `libmod_rustgi.so`.
pub const DAEMON_EXE: &str = "rustgi-daemon";

fn status_field(pid: u32, field: &str) -> Option<String> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim() == field)
        .map(|(_, v)| v.trim().to_owned())
}

/// The parent pid of `pid`.
pub fn parent_pid(pid: u32) -> Option<u32> {
    status_field(pid, "PPid")?.parse().ok()
}

/// Whether `pid` has exited (gone, or a zombie not yet reaped).
pub fn is_gone(pid: u32) -> bool {
    status_field(pid, "State").is_none_or(|s| s.starts_with('Z') || s.starts_with('X'))
}

/// Whether `pid` is a rustgi daemon process: its executable is
/// `rustgi-daemon`, or its title `(rustgi:...)`.
pub fn is_daemon_process(pid: u32) -> bool {
    if let Ok(exe) = fs::read_link(format!("/proc/{pid}/exe"))
        && exe
            .file_name()
            .is_some_and(|n| n.to_string_lossy().trim_end_matches(" (deleted)") == DAEMON_EXE)
    {
        return true;
    }
    fs::read(format!("/proc/{pid}/cmdline"))
        .ok()
        .is_some_and(|c| c.starts_with(b"(rustgi:"))
}

/// The live (not zombie) children of `parent`, sorted.
pub fn children_of(parent: u32) -> Vec<u32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids: Vec<u32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| parent_pid(*pid) == Some(parent) && !is_gone(*pid))
        .collect();
    pids.sort_unstable();
    pids
}

/// The daemon processes among the children of Apache's parent.
pub fn daemon_children(apache: u32) -> Vec<u32> {
    children_of(apache)
        .into_iter()
        .filter(|p| is_daemon_process(*p))
        .collect()
}

/// Apache's own children (not daemons).
pub fn apache_children(apache: u32) -> Vec<u32> {
    children_of(apache)
        .into_iter()
        .filter(|p| !is_daemon_process(*p))
        .collect()
}

/// How many file descriptors `pid` has open (`/proc/PID/fd`).
pub fn fd_count(pid: u32) -> Option<usize> {
    Some(fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}

/// Sends `signal` to `pid`.
pub fn signal(pid: u32, signal: i32) -> io::Result<()> {
    let pid =
        libc::pid_t::try_from(pid).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: kill has no memory-safety preconditions.
    if unsafe { libc::kill(pid, signal) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The local time's offset from UTC now, in seconds (Apache's error_log
/// has local times).
pub fn utc_offset() -> i64 {
    // SAFETY: time(NULL) has no preconditions; localtime_r writes into the
    // zeroed tm we own and reads only `now`.
    unsafe {
        let now = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&now, &mut tm).is_null() {
            return 0;
        }
        tm.tm_gmtoff
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process() {
        let me = std::process::id();
        assert!(!is_gone(me));
        assert!(fd_count(me).is_some_and(|n| n >= 3));
        assert!(!is_daemon_process(me));
        assert_eq!(parent_pid(me), Some(std::os::unix::process::parent_id()));
    }
}
