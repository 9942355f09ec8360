//! Helpers for the daemon-mode tests (`tests/daemon_*.rs`): the daemon
//! executable, test users, facts about processes from `/proc`, signals, a
//! load generator that times every request, and raw connections to a
//! group's socket.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::CString;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::{Response, running_as_root, target_dir};

/// What `/proc` says of processes: the chaos tool's reading, shared.
pub use rustgi_chaos::procfs::{
    DAEMON_EXE, apache_children, children_of, daemon_children, is_daemon_process, is_gone,
    parent_pid,
};

/// `target/<profile>/rustgi-daemon`, where the module looks for it; panics
/// with a hint when it is missing.
pub fn daemon_executable() -> PathBuf {
    let path = target_dir().join(DAEMON_EXE);
    assert!(
        path.is_file(),
        "{DAEMON_EXE} not found at {}: run `cargo build --workspace --release` before the tests",
        path.display()
    );
    path
}

/// Checks that the daemon executable is there (every daemon test starts
/// with it, so a missing build says so instead of an Apache start-up error).
pub fn require_daemon() {
    daemon_executable();
}

/// A Unix account the tests run daemon groups as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

/// The account `name`, from `getent passwd`.
pub fn lookup_user(name: &str) -> Option<TestUser> {
    let out = Command::new("getent")
        .args(["passwd", name])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let line = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = line.trim().split(':').collect();
    if fields.len() < 4 {
        return None;
    }
    Some(TestUser {
        name: fields[0].to_owned(),
        uid: fields[2].parse().ok()?,
        gid: fields[3].parse().ok()?,
    })
}

/// The test account `name` (e.g. `rgitest1`), created as a system user
/// without a home directory when it is missing. `None` unless the tests run
/// as root (only root can create users, and only root can start daemons
/// under other users); the caller then skips, saying so.
pub fn test_user(name: &str) -> Option<TestUser> {
    if !running_as_root() {
        return None;
    }
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(user) = lookup_user(name) {
        return Some(user);
    }
    let out = Command::new("useradd")
        .args([
            "--system",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            "/usr/sbin/nologin",
            name,
        ])
        .output()
        .expect("run useradd");
    // Exit status 9: another test process created it meanwhile.
    let user = lookup_user(name);
    assert!(
        user.is_some(),
        "useradd {name} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    user
}

/// Prints why a test is skipped (to stderr, shown by `cargo test`).
pub fn skip(test: &str, why: &str) {
    eprintln!("SKIPPED {test}: {why}");
}

/// `/proc/PID/status` as a map (`VmRSS` → `1234 kB`).
pub fn proc_status(pid: u32) -> Option<BTreeMap<String, String>> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some(
        text.lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect(),
    )
}

/// A `kB` field of `/proc/PID/status` (`VmRSS`, `VmHWM`), in bytes.
pub fn status_bytes(pid: u32, field: &str) -> Option<u64> {
    let status = proc_status(pid)?;
    let value = status.get(field)?;
    let kb: u64 = value.split_whitespace().next()?.parse().ok()?;
    Some(kb * 1024)
}

/// The real uid of `pid`.
pub fn proc_uid(pid: u32) -> Option<u32> {
    proc_status(pid)?
        .get("Uid")?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// `argv[0]` of `pid` (the daemons' process title).
pub fn proc_title(pid: u32) -> Option<String> {
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let argv0 = cmdline.split(|b| *b == 0).next()?;
    Some(String::from_utf8_lossy(argv0).into_owned())
}

/// Sends `signal` to `pid`; panics when that fails.
pub fn send_signal(pid: u32, signal: i32) {
    let pid_t = libc::pid_t::try_from(pid).expect("pid fits pid_t");
    // SAFETY: kill has no memory-safety preconditions.
    let rc = unsafe { libc::kill(pid_t, signal) };
    assert_eq!(
        rc,
        0,
        "kill({pid}, {signal}): {}",
        io::Error::last_os_error()
    );
}

/// Polls `f` every `every` until it returns `Some`, for at most `timeout`.
pub fn poll_until<T>(
    timeout: Duration,
    every: Duration,
    mut f: impl FnMut() -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(every);
    }
}

/// The `pid` field of a JSON answer (the echo app's, or faults' `/pid`).
pub fn json_pid(resp: &Response) -> Option<u64> {
    let v: serde_json::Value = serde_json::from_slice(&resp.body).ok()?;
    v.get("pid")?.as_u64()
}

/// Writes `contents` to a temporary file beside `dst` and renames it over
/// `dst` (a new inode, as a deploy does), world-readable.
pub fn replace_file(dst: &Path, contents: &[u8]) {
    use std::os::unix::fs::PermissionsExt;
    let tmp = dst.with_extension("so.new");
    fs::write(&tmp, contents).expect("write the new file");
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o644)).expect("chmod 0644");
    fs::rename(&tmp, dst).expect("rename it over the old one");
}

/// What a load job says about one request.
#[derive(Clone, Debug)]
pub enum Outcome {
    /// As expected; the pid of the process that served it, when known.
    Ok { pid: Option<u64> },
    /// Not as expected: the status (None: no HTTP response at all) and why.
    Failed { status: Option<u16>, why: String },
}

/// One timed request of a [`Load`].
#[derive(Clone, Debug)]
pub struct Sample {
    pub client: usize,
    pub seq: usize,
    pub start: Instant,
    pub end: Instant,
    pub outcome: Outcome,
}

impl Sample {
    pub fn is_ok(&self) -> bool {
        matches!(self.outcome, Outcome::Ok { .. })
    }

    pub fn pid(&self) -> Option<u64> {
        match self.outcome {
            Outcome::Ok { pid } => pid,
            Outcome::Failed { .. } => None,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match &self.outcome {
            Outcome::Ok { .. } => Some(200),
            Outcome::Failed { status, .. } => *status,
        }
    }
}

/// Client threads sending requests in a loop until stopped (or each has
/// sent its quota), timing each.
pub struct Load {
    stop: Arc<AtomicBool>,
    completed: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
    samples: Arc<Mutex<Vec<Sample>>>,
    handles: Vec<JoinHandle<()>>,
    pub clients: usize,
}

impl Load {
    /// Starts `clients` threads; client `c` runs `job(c, seq)` for `seq` in
    /// `0..per_client` unless stopped first.
    pub fn start<F>(clients: usize, per_client: usize, job: F) -> Load
    where
        F: Fn(usize, usize) -> Outcome + Send + Sync + 'static,
    {
        let job = Arc::new(job);
        let stop = Arc::new(AtomicBool::new(false));
        let completed = Arc::new(AtomicUsize::new(0));
        let failed = Arc::new(AtomicUsize::new(0));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let handles = (0..clients)
            .map(|client| {
                let (job, stop, completed, failed, samples) = (
                    job.clone(),
                    stop.clone(),
                    completed.clone(),
                    failed.clone(),
                    samples.clone(),
                );
                thread::spawn(move || {
                    for seq in 0..per_client {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        let start = Instant::now();
                        let outcome = catch_unwind(AssertUnwindSafe(|| job(client, seq)))
                            .unwrap_or_else(|panic| Outcome::Failed {
                                status: None,
                                why: format!("the job panicked: {}", panic_text(&panic)),
                            });
                        let end = Instant::now();
                        if matches!(outcome, Outcome::Failed { .. }) {
                            failed.fetch_add(1, Ordering::SeqCst);
                        }
                        samples
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(Sample {
                                client,
                                seq,
                                start,
                                end,
                                outcome,
                            });
                        completed.fetch_add(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        Load {
            stop,
            completed,
            failed,
            samples,
            handles,
            clients,
        }
    }

    /// Requests completed so far.
    pub fn completed(&self) -> usize {
        self.completed.load(Ordering::SeqCst)
    }

    /// Requests that failed so far.
    pub fn failed(&self) -> usize {
        self.failed.load(Ordering::SeqCst)
    }

    /// The samples so far.
    pub fn samples(&self) -> Vec<Sample> {
        self.samples
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Waits until `n` requests completed (or the clients are done);
    /// whether they did, within `timeout`.
    pub fn wait_completed(&self, n: usize, timeout: Duration) -> bool {
        poll_until(timeout, Duration::from_millis(10), || {
            (self.completed() >= n || self.handles.iter().all(|h| h.is_finished())).then_some(())
        })
        .is_some()
            && self.completed() >= n
    }

    /// Whether every client has sent its quota.
    pub fn is_finished(&self) -> bool {
        self.handles.iter().all(|h| h.is_finished())
    }

    /// Stops the clients (each finishes the request it is sending) and
    /// returns every sample.
    pub fn stop(self) -> LoadReport {
        self.stop.store(true, Ordering::SeqCst);
        self.join()
    }

    /// Lets every client send its whole quota, then returns every sample.
    pub fn join(self) -> LoadReport {
        for h in self.handles {
            h.join().expect("a load client thread panicked");
        }
        let mut samples =
            std::mem::take(&mut *self.samples.lock().unwrap_or_else(|e| e.into_inner()));
        samples.sort_by_key(|s| s.start);
        LoadReport { samples }
    }
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(not a string)".to_owned()
    }
}

/// Every request of a [`Load`], by start time.
pub struct LoadReport {
    pub samples: Vec<Sample>,
}

impl LoadReport {
    pub fn total(&self) -> usize {
        self.samples.len()
    }

    pub fn failures(&self) -> Vec<&Sample> {
        self.samples.iter().filter(|s| !s.is_ok()).collect()
    }

    /// The pids that served the successful requests.
    pub fn pids(&self) -> BTreeSet<u64> {
        self.samples.iter().filter_map(Sample::pid).collect()
    }

    /// How many successful requests each pid served.
    pub fn per_pid(&self) -> BTreeMap<u64, usize> {
        let mut counts = BTreeMap::new();
        for pid in self.samples.iter().filter_map(Sample::pid) {
            *counts.entry(pid).or_insert(0) += 1;
        }
        counts
    }

    /// The failures, one a line, with times relative to `origin`.
    pub fn describe_failures(&self, origin: Instant) -> String {
        let rel = |t: Instant| {
            if t >= origin {
                format!("+{:.3}s", (t - origin).as_secs_f64())
            } else {
                format!("-{:.3}s", (origin - t).as_secs_f64())
            }
        };
        self.failures()
            .iter()
            .map(|s| {
                let Outcome::Failed { status, why } = &s.outcome else {
                    unreachable!()
                };
                format!(
                    "client {} #{}: {} .. {}: status {:?}: {}",
                    s.client,
                    s.seq,
                    rel(s.start),
                    rel(s.end),
                    status,
                    why.split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ")
                        .chars()
                        .take(200)
                        .collect::<String>()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// What became of a raw connection to a group's socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probe {
    /// connect() failed with EACCES or EPERM (the socket's mode).
    ConnectDenied,
    /// connect() failed otherwise (errno).
    ConnectFailed(i32),
    /// The daemon closed the connection without sending anything.
    ClosedSilently,
    /// The daemon sent this many bytes (at least) before closing or within
    /// the wait.
    Answered(usize),
    /// The connection stayed open, silent, for the whole wait.
    LeftOpen,
}

/// The preface of protocol version 1: `RUSTGI` and the version (u16 BE).
pub const PREFACE: &[u8; 8] = b"RUSTGI\0\x01";

/// Bytes a peer sends after the preface: a REQUEST frame header announcing
/// a short payload, and that payload (not a valid request; the daemon must
/// not get that far anyway).
pub fn probe_payload() -> Vec<u8> {
    let mut out = PREFACE.to_vec();
    out.extend_from_slice(&[0x01, 0, 0, 0, 0, 0, 0, 16]);
    out.extend_from_slice(b"not from apache!");
    out
}

/// Connects to the UNIX socket `path` as this process (root in the tests),
/// sends `payload` and waits up to `wait` for the daemon's reaction.
pub fn probe_socket(path: &Path, payload: &[u8], wait: Duration) -> Probe {
    let mut stream = match UnixStream::connect(path) {
        Ok(s) => s,
        Err(e) => {
            return match e.raw_os_error() {
                Some(libc::EACCES) | Some(libc::EPERM) => Probe::ConnectDenied,
                other => Probe::ConnectFailed(other.unwrap_or(-1)),
            };
        }
    };
    // A write the daemon refused (it closed first) is fine: read on.
    let _ = stream.write_all(payload);
    stream
        .set_read_timeout(Some(wait))
        .expect("set_read_timeout");
    let mut buf = [0u8; 4096];
    match stream.read(&mut buf) {
        Ok(0) => Probe::ClosedSilently,
        Ok(n) => Probe::Answered(n),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            Probe::LeftOpen
        }
        Err(_) => Probe::ClosedSilently,
    }
}

/// [`probe_socket`] from a forked child that first switches to `uid`/`gid`
/// (no supplementary groups). Only root can do this.
pub fn probe_socket_as(path: &Path, uid: u32, gid: u32, payload: &[u8], wait: Duration) -> Probe {
    // Everything the child needs is prepared before fork: after fork it
    // only makes async-signal-safe system calls.
    let c_path = CString::new(path.as_os_str().as_bytes()).expect("socket path has no NUL");
    // SAFETY: sockaddr_un is plain data; all-zero is a valid value.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = c_path.as_bytes_with_nul();
    assert!(bytes.len() <= addr.sun_path.len(), "socket path too long");
    for (dst, src) in addr.sun_path.iter_mut().zip(bytes) {
        *dst = *src as libc::c_char;
    }
    let addr_len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
    let wait_ms = i32::try_from(wait.as_millis()).unwrap_or(i32::MAX);
    let payload = payload.to_vec();

    // Exit codes of the child.
    const CLOSED: i32 = 0;
    const DENIED: i32 = 10;
    const ANSWERED: i32 = 13;
    const OPEN: i32 = 14;
    const SETUP: i32 = 15;
    const CONNECT_OTHER: i32 = 16; // + nothing: errno is not passed on

    // SAFETY: fork has no preconditions; the child runs only the
    // async-signal-safe calls below on memory prepared above, then _exits.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", io::Error::last_os_error());
    if pid == 0 {
        // SAFETY: as above: plain system calls on valid pointers.
        unsafe {
            let code = 'child: {
                if libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(gid) != 0
                    || libc::setuid(uid) != 0
                {
                    break 'child SETUP;
                }
                let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
                if fd < 0 {
                    break 'child SETUP;
                }
                if libc::connect(fd, (&raw const addr).cast(), addr_len) != 0 {
                    let errno = *libc::__errno_location();
                    break 'child if errno == libc::EACCES || errno == libc::EPERM {
                        DENIED
                    } else {
                        CONNECT_OTHER
                    };
                }
                libc::send(
                    fd,
                    payload.as_ptr().cast(),
                    payload.len(),
                    libc::MSG_NOSIGNAL,
                );
                let mut pfd = libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                };
                let ready = libc::poll(&mut pfd, 1, wait_ms);
                if ready == 0 {
                    break 'child OPEN;
                }
                let mut buf = [0u8; 256];
                let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
                if n > 0 { ANSWERED } else { CLOSED }
            };
            libc::_exit(code);
        }
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(rc, pid, "waitpid: {}", io::Error::last_os_error());
    assert!(libc::WIFEXITED(status), "the probe child died: {status}");
    match libc::WEXITSTATUS(status) {
        CLOSED => Probe::ClosedSilently,
        DENIED => Probe::ConnectDenied,
        ANSWERED => Probe::Answered(1),
        OPEN => Probe::LeftOpen,
        SETUP => panic!("the probe child could not switch to uid {uid} gid {gid}"),
        CONNECT_OTHER => Probe::ConnectFailed(-1),
        other => panic!("the probe child exited with {other}"),
    }
}

/// A `Mutex` the heavy tests share, so that two of them never load the
/// (2-core) machine at once and time each other out.
pub fn heavy_lock() -> std::sync::MutexGuard<'static, ()> {
    static HEAVY: Mutex<()> = Mutex::new(());
    HEAVY.lock().unwrap_or_else(|e| e.into_inner())
}
