//! Facts about processes from `/proc`: memory, children, titles, and which
//! process holds the server side of a TCP connection.

use std::fs;
use std::net::SocketAddr;
use std::path::Path;

/// A field of `/proc/PID/status` given in kB (`VmRSS`, `VmHWM`), in bytes.
pub fn status_bytes(pid: u32, field: &str) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let value = text
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?;
    let kb: u64 = value.split_whitespace().next()?.parse().ok()?;
    Some(kb * 1024)
}

/// The resident set of `pid` now, in bytes.
pub fn rss(pid: u32) -> Option<u64> {
    status_bytes(pid, "VmRSS")
}

/// The peak resident set of `pid` (since it started, or since
/// [`reset_peak`]), in bytes.
pub fn peak_rss(pid: u32) -> Option<u64> {
    status_bytes(pid, "VmHWM")
}

/// Resets `pid`'s peak resident set (`VmHWM`) to its resident set now, by
/// writing 5 to `/proc/PID/clear_refs` (Linux 4.0 and later; needs the
/// right to trace the process). Whether it worked.
pub fn reset_peak(pid: u32) -> bool {
    fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

fn parent_of(pid: u32) -> Option<u32> {
    // The name in parentheses may hold spaces and parentheses: PPid is the
    // second field after the last ')'.
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    fields.next()?.parse().ok()
}

/// The live children of `parent`, sorted.
pub fn children_of(parent: u32) -> Vec<u32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids: Vec<u32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| parent_of(*pid) == Some(parent))
        .collect();
    pids.sort_unstable();
    pids
}

/// The CPU time (user and system) `pid` has used, in seconds.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the name: state is field 3, utime and stime fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf only reads a system setting.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    Some(ticks as f64 / per_second.max(1) as f64)
}

/// `root` and all its descendants, live.
pub fn tree_of(root: u32) -> Vec<u32> {
    let mut all = vec![root];
    let mut i = 0;
    while i < all.len() {
        all.extend(children_of(all[i]));
        i += 1;
    }
    all
}

/// The CPU time of `root`'s whole tree (Apache's parent, its children and
/// the daemons), in seconds.
pub fn tree_cpu_seconds(root: u32) -> f64 {
    tree_of(root).into_iter().filter_map(cpu_seconds).sum()
}

/// `argv[0]` of `pid`: the title daemons give themselves.
pub fn title(pid: u32) -> Option<String> {
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let argv0 = cmdline.split(|b| *b == 0).next()?;
    Some(String::from_utf8_lossy(argv0).into_owned())
}

/// The file name of the program `pid` runs.
fn program(pid: u32) -> Option<String> {
    let exe = fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    Some(exe.file_name()?.to_string_lossy().into_owned())
}

/// A child of Apache's parent process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildKind {
    /// A worker process of the MPM.
    Apache,
    /// A mod_rustgi daemon process.
    Rustgi,
    /// A mod_wsgi daemon process.
    Wsgi,
}

/// What kind of child of Apache's parent `pid` is.
pub fn child_kind(pid: u32) -> ChildKind {
    let title = title(pid).unwrap_or_default();
    if title.starts_with("(rustgi:") || program(pid).is_some_and(|p| p == "rustgi-daemon") {
        ChildKind::Rustgi
    } else if title.starts_with("(wsgi:") {
        ChildKind::Wsgi
    } else {
        ChildKind::Apache
    }
}

/// Apache's worker processes (children of `parent` that are no daemons).
pub fn apache_children(parent: u32) -> Vec<u32> {
    children_of(parent)
        .into_iter()
        .filter(|p| child_kind(*p) == ChildKind::Apache)
        .collect()
}

/// The children of `parent` whose title starts with `prefix`.
pub fn titled_children(parent: u32, prefix: &str) -> Vec<u32> {
    children_of(parent)
        .into_iter()
        .filter(|p| title(*p).is_some_and(|t| t.starts_with(prefix)))
        .collect()
}

/// The sum of the resident sets of `pids`, in bytes.
pub fn total_rss(pids: &[u32]) -> u64 {
    pids.iter().filter_map(|p| rss(*p)).sum()
}

/// `addr` as `/proc/net/tcp` writes it: `0100007F:1F90`.
fn proc_net_addr(addr: SocketAddr) -> Option<String> {
    let SocketAddr::V4(v4) = addr else {
        return None;
    };
    let ip = u32::from_ne_bytes(v4.ip().octets());
    Some(format!("{ip:08X}:{:04X}", v4.port()))
}

/// The inode of the socket whose local address is `local` and whose peer
/// is `remote`, from `/proc/net/tcp`.
fn socket_inode(local: SocketAddr, remote: SocketAddr) -> Option<u64> {
    let (l, r) = (proc_net_addr(local)?, proc_net_addr(remote)?);
    let table = fs::read_to_string("/proc/net/tcp").ok()?;
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        (f.len() > 9 && f[1] == l && f[2] == r)
            .then(|| f[9].parse().ok())
            .flatten()
            .filter(|inode| *inode != 0)
    })
}

/// Whether `pid` has the socket `inode` open.
fn holds_socket(pid: u32, inode: u64) -> bool {
    let want = format!("socket:[{inode}]");
    let Ok(dir) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    dir.filter_map(Result::ok)
        .any(|e| fs::read_link(e.path()).is_ok_and(|t| t == Path::new(&want)))
}

/// Which of `candidates` holds the server side of the TCP connection from
/// `client` to `server` (both on this machine).
pub fn server_side_of(client: SocketAddr, server: SocketAddr, candidates: &[u32]) -> Option<u32> {
    let inode = socket_inode(server, client)?;
    candidates
        .iter()
        .copied()
        .find(|pid| holds_socket(*pid, inode))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn own_memory_and_reset() {
        let me = std::process::id();
        let rss = rss(me).unwrap();
        assert!(rss > 0);
        assert!(peak_rss(me).unwrap() >= rss / 2);
        assert!(children_of(me).is_empty());
    }

    #[test]
    fn finds_the_server_side_of_a_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let server = listener.local_addr().unwrap();
        let client = TcpStream::connect(server).unwrap();
        let (_accepted, _) = listener.accept().unwrap();
        let me = std::process::id();
        let found = server_side_of(client.local_addr().unwrap(), server, &[me]);
        assert_eq!(found, Some(me));
        assert_eq!(proc_net_addr(server).unwrap().len(), 13);
    }
}
