//! The chaos run: load held against a daemon group while its processes are
//! killed, crashed, timed out, recycled, restarted and redeployed.
//!
//! * K client threads POST random bodies to the echo app (`/e/...`), and
//!   one request in three to a Python echo (`/p/...`, a WSGI script run by
//!   the Python bridge in the same group), and check the `body_len`,
//!   `body_sha256` and `path_info` they report: a 200 whose checksum is
//!   wrong is *body corruption*.
//! * A fault client calls the faults app (`/f/...`) of the same group:
//!   `/panic` (500, the process serves on), `/abort`, `/segfault`, `/exit`
//!   (the process dies: 502), `/sleep?ms=5000` (504 once `request-timeout`
//!   and a second have passed; the process is recycled).
//! * A slow client uploads to the echo app at about 5 KB/s, past the
//!   group's `request-timeout`: a slow client must not recycle a process.
//! * A scheduler SIGKILLs a random daemon process, sends SIGUSR1 (graceful
//!   restart) to Apache's parent, renames a fresh copy of `libecho.so` over
//!   the served one (`RustgiScriptReloading`), and deploys a bad file (not
//!   an app) for a moment before the good one comes back, which the
//!   processes must refuse and serve on; `maximum-requests` recycles the
//!   processes all along.
//!
//! Every request records when it started and ended and the client port it
//! used; Apache's children log each failed request to a daemon with its
//! client port and the daemon's pid (`[client 127.0.0.1:PORT] group chaos,
//! pid N: ...`). A failed request is *explained* only if it got 502 and was
//! in flight when the process that served it was killed (SIGKILL sent while
//! it ran) or crashed (within the fault request that crashed it, at most
//! 1 s). Any other failure is unexplained: there must be none.
//!
//! One file, long on purpose: a run is one timeline (the load, the faults
//! and the check of every request against the faults around it), and it
//! reads best from start to end.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use crate::logs;
use crate::procfs;
use crate::site::{Artifacts, Site, replace_file};
use crate::wire;

/// The daemon group's name.
pub const GROUP: &str = "chaos";

/// How a run goes.
#[derive(Clone, Debug)]
pub struct Options {
    /// How long the load is held.
    pub duration: Duration,
    /// Client threads sending echo POSTs.
    pub clients: usize,
    pub seed: u64,
    /// Mean time between SIGKILLs of a daemon process.
    pub kill_every: Duration,
    /// Mean time between calls of a fault endpoint.
    pub fault_every: Duration,
    /// Mean time between graceful restarts (SIGUSR1).
    pub graceful_every: Duration,
    /// Mean time between replacements of the app file.
    pub replace_every: Duration,
    /// Mean time between deploys of a bad app file.
    pub bad_deploy_every: Duration,
    /// Mean pause between two slow uploads (each takes about 3 s).
    pub slow_every: Duration,
    /// The largest request body.
    pub max_body: usize,
    /// The group's `maximum-requests`.
    pub maximum_requests: u32,
    /// Print progress to stderr every this often (None: quiet).
    pub progress: Option<Duration>,
    /// Keep the server root (logs) after the run.
    pub keep: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            duration: Duration::from_secs(60),
            clients: 6,
            seed: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1),
            kill_every: Duration::from_secs(3),
            fault_every: Duration::from_secs(2),
            graceful_every: Duration::from_secs(5),
            replace_every: Duration::from_secs(8),
            bad_deploy_every: Duration::from_secs(11),
            slow_every: Duration::from_secs(2),
            max_body: 64 * 1024,
            maximum_requests: 200,
            progress: None,
            keep: false,
        }
    }
}

/// The server configuration of a run.
pub fn config(opts: &Options) -> String {
    format!(
        "RustgiScriptReloading On\n\
         RustgiDaemonProcess {GROUP} processes=2 threads=4 maximum-requests={} \
         request-timeout=2 graceful-timeout=5 home=@ROOT@\n\
         RustgiScriptAlias /e @APPS@/libecho.so process-group={GROUP}\n\
         RustgiScriptAlias /f @APPS@/libfaults.so process-group={GROUP}\n\
         RustgiScriptAlias /p @APPS@/{PY_ECHO_NAME} process-group={GROUP}\n",
        opts.maximum_requests
    )
}

/// The Python echo's file name in the apps directory.
pub const PY_ECHO_NAME: &str = "echo.py";

/// A WSGI echo: what the compiled echo reports, the same way.
pub const PY_ECHO: &str = r#"import hashlib
import json
import os


def application(environ, start_response):
    digest = hashlib.sha256()
    length = 0
    while True:
        piece = environ["wsgi.input"].read(65536)
        if not piece:
            break
        digest.update(piece)
        length += len(piece)
    body = json.dumps({
        "body_len": length,
        "body_sha256": digest.hexdigest(),
        "path_info": environ.get("PATH_INFO", ""),
        "pid": os.getpid(),
    }).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]
"#;

/// A fault, by kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    Sigkill,
    Abort,
    Segfault,
    Exit,
    Panic,
    Sleep,
    Graceful,
    Replace,
    BadDeploy,
    SlowUpload,
}

impl FaultKind {
    /// The fault endpoints, in the order the fault client cycles through.
    pub const ENDPOINTS: [FaultKind; 5] = [
        FaultKind::Abort,
        FaultKind::Panic,
        FaultKind::Segfault,
        FaultKind::Sleep,
        FaultKind::Exit,
    ];

    pub fn label(self) -> &'static str {
        match self {
            FaultKind::Sigkill => "SIGKILL of a random daemon process",
            FaultKind::Abort => "`/f/abort` (process aborts)",
            FaultKind::Segfault => "`/f/segfault` (process dies of SIGSEGV)",
            FaultKind::Exit => "`/f/exit` (process exits with status 3)",
            FaultKind::Panic => "`/f/panic` (caught panic)",
            FaultKind::Sleep => "`/f/sleep?ms=5000` past request-timeout=2 (504 after 3 s)",
            FaultKind::Graceful => "graceful restart (SIGUSR1 to Apache's parent)",
            FaultKind::Replace => "app `.so` replaced (fresh copy renamed over it)",
            FaultKind::BadDeploy => {
                "a file that is not an app renamed over the `.so` for 1.5 s, then a good copy"
            }
            FaultKind::SlowUpload => "a 16 KB upload at 5 KB/s, past request-timeout=2",
        }
    }

    fn path(self) -> Option<&'static str> {
        match self {
            FaultKind::Abort => Some("/f/abort"),
            FaultKind::Segfault => Some("/f/segfault"),
            FaultKind::Exit => Some("/f/exit"),
            FaultKind::Panic => Some("/f/panic"),
            FaultKind::Sleep => Some("/f/sleep?ms=5000"),
            _ => None,
        }
    }

    /// Whether the fault ends the process that serves it.
    fn kills(self) -> bool {
        matches!(
            self,
            FaultKind::Sigkill | FaultKind::Abort | FaultKind::Segfault | FaultKind::Exit
        )
    }

    /// What the parent logs about a process this fault ended.
    fn death(self) -> Option<&'static str> {
        match self {
            FaultKind::Sigkill => Some("signal 9"),
            FaultKind::Abort => Some("signal 6"),
            FaultKind::Segfault => Some("signal 11"),
            FaultKind::Exit => Some("status 3"),
            _ => None,
        }
    }
}

/// Seconds since the run's start, for Instants and log times alike.
#[derive(Clone, Copy, Debug)]
struct Clock {
    start: Instant,
    unix: f64,
}

impl Clock {
    fn new() -> Clock {
        Clock {
            start: Instant::now(),
            unix: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0),
        }
    }

    fn now(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    fn since_start(&self, unix: f64) -> f64 {
        unix - self.unix
    }
}

/// xorshift64*: reproducible from the seed.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let x = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&x[..chunk.len()]);
        }
    }

    /// `mean` ± 25 %.
    pub fn jitter(&mut self, mean: Duration) -> Duration {
        mean.mul_f64(0.75 + self.below(1001) as f64 / 2000.0)
    }
}

/// What one echo request got.
#[derive(Clone, Debug)]
enum Got {
    Ok { pid: u32 },
    Corrupt(String),
    Failed { status: Option<u16>, why: String },
}

#[derive(Clone, Debug)]
struct Sample {
    client: usize,
    seq: usize,
    start: f64,
    end: f64,
    port: Option<u16>,
    got: Got,
}

/// A fault injected: when, on which process, and what its request got.
#[derive(Clone, Debug)]
struct Fault {
    kind: FaultKind,
    start: f64,
    end: f64,
    pid: Option<u32>,
    status: Option<u16>,
    port: Option<u16>,
}

/// Faults of one kind.
#[derive(Clone, Debug, Default)]
pub struct FaultTally {
    pub injected: usize,
    /// For the fault endpoints: what their requests got (`502`, `no
    /// response`, ...).
    pub answers: BTreeMap<String, usize>,
}

/// The figures of a run.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub seconds: f64,
    pub clients: usize,
    pub seed: u64,
    pub max_body: usize,
    pub maximum_requests: u32,
    /// The mean times between faults, as the report shows them.
    pub schedule: String,
    /// Echo requests sent (and completed).
    pub requests: usize,
    pub ok: usize,
    pub bytes_sent: u64,
    /// Failed echo requests by status (`502`, `no response`).
    pub failed_by_status: BTreeMap<String, usize>,
    /// Failed echo requests by cause.
    pub failed_by_cause: BTreeMap<String, usize>,
    /// Failures not explained by a fault (must be 0), described.
    pub unexplained: Vec<String>,
    /// 200s whose checksum, length or path was wrong (must be 0).
    pub corrupt: Vec<String>,
    /// AH00051/AH00052 lines about Apache's own children (must be empty).
    pub child_crashes: Vec<String>,
    /// Whether Apache's parent ran to the end.
    pub parent_alive: bool,
    pub faults: BTreeMap<FaultKind, FaultTally>,
    /// Daemon process ends the parent logged, by how.
    pub daemon_ends: BTreeMap<String, usize>,
    /// Unclean daemon deaths that no fault explains.
    pub unexplained_deaths: Vec<String>,
    pub processes_started: usize,
    /// Distinct daemon processes that answered echo requests.
    pub processes_served: usize,
    pub recycled_max_requests: usize,
    pub recycled_request_timeout: usize,
    pub latency_ms: (f64, f64, f64),
    /// Where the logs are, when kept.
    pub kept: Option<String>,
    /// Every fault injected, one a line, in order.
    pub timeline: Vec<String>,
}

impl Report {
    /// The three zeros (and Apache's parent alive).
    pub fn passed(&self) -> bool {
        self.unexplained.is_empty()
            && self.corrupt.is_empty()
            && self.child_crashes.is_empty()
            && self.parent_alive
    }

    fn failed(&self) -> usize {
        self.failed_by_status.values().sum()
    }

    /// The results as a Markdown table.
    pub fn markdown(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(t, "| figure | value |");
        let _ = writeln!(t, "|---|---|");
        let mut row = |k: &str, v: String| {
            let _ = writeln!(t, "| {k} | {v} |");
        };
        row(
            "load held",
            format!(
                "{} echo POSTs in {:.0} s ({} clients, {:.0} requests/s, bodies of 0–{} KiB, {:.0} MiB sent)",
                self.requests,
                self.seconds,
                self.clients,
                self.requests as f64 / self.seconds.max(1e-9),
                self.max_body / 1024,
                self.bytes_sent as f64 / (1 << 20) as f64
            ),
        );
        row(
            "seed, fault schedule",
            format!("{}; {}", self.seed, self.schedule),
        );
        row(
            "daemon group",
            format!(
                "processes=2 threads=4 maximum-requests={} request-timeout=2 graceful-timeout=5",
                self.maximum_requests
            ),
        );
        row(
            "answered 200 with the right checksum",
            format!(
                "{} (latency p50 {:.1} ms, p99 {:.1} ms, max {:.0} ms)",
                self.ok, self.latency_ms.0, self.latency_ms.1, self.latency_ms.2
            ),
        );
        for (kind, tally) in &self.faults {
            let answers = if tally.answers.is_empty() {
                String::new()
            } else {
                format!(
                    " (answered {})",
                    tally
                        .answers
                        .iter()
                        .map(|(s, n)| format!("{s}: {n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            row(
                &format!("fault: {}", kind.label()),
                format!("{}{answers}", tally.injected),
            );
        }
        row(
            "recycled by maximum-requests / request-timeout",
            format!(
                "{} / {}",
                self.recycled_max_requests, self.recycled_request_timeout
            ),
        );
        row(
            "daemon processes started / served requests / ended",
            format!(
                "{} / {} / {} ({})",
                self.processes_started,
                self.processes_served,
                self.daemon_ends.values().sum::<usize>(),
                self.daemon_ends
                    .iter()
                    .map(|(h, n)| format!("{h}: {n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        row(
            "failed requests, by status",
            if self.failed() == 0 {
                "0".to_owned()
            } else {
                format!(
                    "{} ({})",
                    self.failed(),
                    self.failed_by_status
                        .iter()
                        .map(|(s, n)| format!("{s}: {n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
        );
        for (cause, n) in &self.failed_by_cause {
            row(&format!("failed: {cause}"), n.to_string());
        }
        row(
            "**failed requests not in flight at a fault (must be 0)**",
            format!("**{}**", self.unexplained.len()),
        );
        row(
            "**body corruption: wrong checksum, length or path (must be 0)**",
            format!("**{}**", self.corrupt.len()),
        );
        row(
            "**Apache child crashes, AH00051/AH00052 (must be 0)**",
            format!(
                "**{}**{}",
                self.child_crashes.len(),
                if self.parent_alive {
                    ""
                } else {
                    " (and Apache's parent died)"
                }
            ),
        );
        row(
            "unclean daemon deaths no fault explains",
            self.unexplained_deaths.len().to_string(),
        );
        t
    }

    /// Details of what went wrong, if anything.
    pub fn problems(&self) -> String {
        let mut out = String::new();
        for (title, lines) in [
            ("unexplained failures", &self.unexplained),
            ("body corruption", &self.corrupt),
            ("Apache child crashes", &self.child_crashes),
            ("unexplained daemon deaths", &self.unexplained_deaths),
        ] {
            if !lines.is_empty() {
                let _ = writeln!(out, "{title} ({}):", lines.len());
                for l in lines.iter().take(30) {
                    let _ = writeln!(out, "  {l}");
                }
            }
        }
        if !self.parent_alive {
            let _ = writeln!(out, "Apache's parent process died");
        }
        out
    }
}

fn lowercase_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One echo POST of a random body; checks what the app says it got.
/// How a slow client sends its body: pieces of this size, this far apart.
#[derive(Clone, Copy, Debug)]
struct Pace {
    piece: usize,
    every: Duration,
}

/// The slow uploader's: 1 KB every 200 ms (5 KB/s), 16 KB in all.
const SLOW: Pace = Pace {
    piece: 1024,
    every: Duration::from_millis(200),
};
const SLOW_BODY: usize = 16 * 1024;

/// Sends `raw` (a head, then `body`) on a new connection, the body at
/// `pace` when given, and reads one response.
fn paced_exchange(
    addr: std::net::SocketAddr,
    head: &[u8],
    body: &[u8],
    pace: Option<Pace>,
) -> std::io::Result<wire::Exchange> {
    use std::io::Write as _;
    let Some(pace) = pace else {
        let mut raw = head.to_vec();
        raw.extend_from_slice(body);
        return wire::exchange(addr, &raw, Duration::from_secs(60));
    };
    let mut s = wire::connect(addr, Duration::from_secs(60))?;
    let local_port = s.local_addr()?.port();
    s.write_all(head)?;
    for piece in body.chunks(pace.piece) {
        thread::sleep(pace.every);
        s.write_all(piece)?;
    }
    let mut r = std::io::BufReader::new(s);
    let response = wire::read_response(&mut r, wire::method_of(head))?;
    Ok(wire::Exchange {
        response,
        local_port,
    })
}

fn echo_request(
    addr: std::net::SocketAddr,
    host: &str,
    client: usize,
    seq: usize,
    rng: &mut Rng,
    max_body: usize,
    pace: Option<Pace>,
) -> (Option<u16>, Got, u64) {
    let len = if pace.is_some() {
        SLOW_BODY
    } else {
        rng.below(max_body as u64 + 1) as usize
    };
    // One request in three goes to the Python echo.
    let prefix = if rng.below(3) == 0 { "/p" } else { "/e" };
    let mut body = vec![0u8; len];
    rng.fill(&mut body);
    let path = format!("/c{client}/{seq}");
    let head = wire::head(
        "POST",
        format!("{prefix}{path}").as_bytes(),
        host,
        &[
            b"Connection: close",
            b"Content-Type: application/octet-stream",
            format!("Content-Length: {len}").as_bytes(),
        ],
    );
    let ex = match paced_exchange(addr, &head, &body, pace) {
        Ok(ex) => ex,
        Err(e) => {
            return (
                None,
                Got::Failed {
                    status: None,
                    why: format!("no response: {e}"),
                },
                len as u64,
            );
        }
    };
    let port = Some(ex.local_port);
    let Some(resp) = ex.response else {
        return (
            port,
            Got::Failed {
                status: None,
                why: "closed without a response".to_owned(),
            },
            len as u64,
        );
    };
    if resp.status != 200 {
        let text: String = resp.text().chars().take(200).collect();
        return (
            port,
            Got::Failed {
                status: Some(resp.status),
                why: text,
            },
            len as u64,
        );
    }
    let v: serde_json::Value = match serde_json::from_slice(&resp.body) {
        Ok(v) => v,
        Err(e) => return (port, Got::Corrupt(format!("not JSON: {e}")), len as u64),
    };
    let want = lowercase_hex(&Sha256::digest(&body));
    let got_sha = v["body_sha256"].as_str().unwrap_or("").to_ascii_lowercase();
    let got = if v["body_len"].as_u64() != Some(len as u64) {
        Got::Corrupt(format!("body_len {} instead of {len}", v["body_len"]))
    } else if got_sha != want {
        Got::Corrupt(format!("body_sha256 {got_sha}, sent {want}"))
    } else if v["path_info"].as_str() != Some(path.as_str()) {
        Got::Corrupt(format!("path_info {} instead of {path}", v["path_info"]))
    } else {
        match v["pid"].as_u64().and_then(|p| u32::try_from(p).ok()) {
            Some(pid) => Got::Ok { pid },
            None => Got::Corrupt(format!("no pid in {}", v)),
        }
    };
    (port, got, len as u64)
}

/// What the echo clients record: every request, and the counts so far.
#[derive(Default)]
struct Recorded {
    samples: Mutex<Vec<Sample>>,
    sent: AtomicUsize,
    failed: AtomicUsize,
    bytes: Mutex<u64>,
}

impl Recorded {
    /// Records a request that sent `len` body bytes.
    fn add(&self, sample: Sample, len: u64) {
        if !matches!(sample.got, Got::Ok { .. }) {
            self.failed.fetch_add(1, Ordering::SeqCst);
        }
        self.sent.fetch_add(1, Ordering::SeqCst);
        *self.bytes.lock().unwrap_or_else(|e| e.into_inner()) += len;
        self.samples
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(sample);
    }
}

/// One call of a fault endpoint.
fn fault_request(addr: std::net::SocketAddr, host: &str, path: &str) -> (Option<u16>, Option<u16>) {
    let raw = wire::head("GET", path.as_bytes(), host, &[b"Connection: close"]);
    match wire::exchange(addr, &raw, Duration::from_secs(60)) {
        Ok(ex) => (Some(ex.local_port), ex.response.map(|r| r.status)),
        Err(_) => (None, None),
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Runs the chaos for `opts.duration` against a fresh Apache and returns
/// the figures.
pub fn run(artifacts: &Artifacts, opts: &Options) -> Result<Report, String> {
    let mut site = Site::start(
        artifacts,
        "rustgi-chaos-",
        &[&artifacts.echo, &artifacts.faults],
        &[(PY_ECHO_NAME, PY_ECHO)],
        &[],
        "info",
        &config(opts),
    )?;
    site.root.keep = opts.keep;
    let addr = site.server.addr();
    let host = addr.to_string();
    let apache = site.server.pid();
    let served_app = site.apps.join("libecho.so");
    let clock = Clock::new();
    let stop = Arc::new(AtomicBool::new(false));
    let recorded: Arc<Recorded> = Arc::default();
    let faults: Arc<Mutex<Vec<Fault>>> = Arc::default();

    let mut threads = Vec::new();
    for client in 0..opts.clients {
        let (stop, recorded, host) = (stop.clone(), recorded.clone(), host.clone());
        let mut rng = Rng::new(opts.seed ^ (client as u64 + 1).wrapping_mul(0x1000_0001));
        let max_body = opts.max_body;
        threads.push(thread::spawn(move || {
            let mut seq = 0;
            while !stop.load(Ordering::SeqCst) {
                let start = clock.now();
                let (port, got, len) =
                    echo_request(addr, &host, client, seq, &mut rng, max_body, None);
                let end = clock.now();
                recorded.add(
                    Sample {
                        client,
                        seq,
                        start,
                        end,
                        port,
                        got,
                    },
                    len,
                );
                seq += 1;
            }
        }));
    }

    // The slow uploader: a client of its own, numbered after the others.
    {
        let (stop, recorded, faults, host) =
            (stop.clone(), recorded.clone(), faults.clone(), host.clone());
        let client = opts.clients;
        let mut rng = Rng::new(opts.seed ^ 0x5105);
        let every = opts.slow_every;
        threads.push(thread::spawn(move || {
            let mut seq = 0;
            loop {
                let until = Instant::now() + rng.jitter(every);
                while Instant::now() < until {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    thread::sleep(Duration::from_millis(20));
                }
                let start = clock.now();
                let (port, got, len) =
                    echo_request(addr, &host, client, seq, &mut rng, 0, Some(SLOW));
                let end = clock.now();
                let status = match &got {
                    Got::Ok { .. } => Some(200),
                    Got::Failed { status, .. } => *status,
                    Got::Corrupt(_) => Some(200),
                };
                faults
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(Fault {
                        kind: FaultKind::SlowUpload,
                        start,
                        end,
                        pid: None,
                        status,
                        port,
                    });
                recorded.add(
                    Sample {
                        client,
                        seq,
                        start,
                        end,
                        port,
                        got,
                    },
                    len,
                );
                seq += 1;
            }
        }));
    }

    // The fault client.
    {
        let (stop, faults, host) = (stop.clone(), faults.clone(), host.clone());
        let mut rng = Rng::new(opts.seed ^ 0xFA17);
        let every = opts.fault_every;
        threads.push(thread::spawn(move || {
            let mut i = rng.below(FaultKind::ENDPOINTS.len() as u64) as usize;
            loop {
                let until = Instant::now() + rng.jitter(every);
                while Instant::now() < until {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    thread::sleep(Duration::from_millis(20));
                }
                let kind = FaultKind::ENDPOINTS[i % FaultKind::ENDPOINTS.len()];
                i += 1;
                let start = clock.now();
                let (port, status) = fault_request(addr, &host, kind.path().unwrap_or("/f/"));
                let end = clock.now();
                faults
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(Fault {
                        kind,
                        start,
                        end,
                        pid: None,
                        status,
                        port,
                    });
            }
        }));
    }

    // The scheduler: SIGKILL, graceful restart, app replacement.
    let mut rng = Rng::new(opts.seed ^ 0x5C4E_D01E);
    let started = Instant::now();
    let deadline = started + opts.duration;
    let mut next_kill = started + rng.jitter(opts.kill_every);
    let mut next_graceful = started + rng.jitter(opts.graceful_every);
    let mut next_replace = started + rng.jitter(opts.replace_every);
    let mut next_bad_deploy = started + rng.jitter(opts.bad_deploy_every);
    let mut next_progress = opts.progress.map(|p| started + p);
    let record = |kind, start, end, pid| {
        faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Fault {
                kind,
                start,
                end,
                pid,
                status: None,
                port: None,
            });
    };
    let mut scheduler_errors = Vec::new();
    loop {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        let next = [
            Some(next_kill),
            Some(next_graceful),
            Some(next_replace),
            Some(next_bad_deploy),
            next_progress,
            Some(deadline),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(deadline);
        if next > now {
            thread::sleep(next - now);
            continue;
        }
        if now >= next_kill {
            next_kill = now + rng.jitter(opts.kill_every);
            let daemons = procfs::daemon_children(apache);
            if !daemons.is_empty() {
                let victim = daemons[rng.below(daemons.len() as u64) as usize];
                let before = clock.now();
                let result = procfs::signal(victim, libc::SIGKILL);
                let after = clock.now();
                match result {
                    Ok(()) => record(FaultKind::Sigkill, before, after, Some(victim)),
                    // It ended on its own meanwhile.
                    Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {}
                    Err(e) => scheduler_errors.push(format!("kill {victim}: {e}")),
                }
            }
        }
        if now >= next_graceful {
            next_graceful = now + rng.jitter(opts.graceful_every);
            let t = clock.now();
            match procfs::signal(apache, libc::SIGUSR1) {
                Ok(()) => record(FaultKind::Graceful, t, t, None),
                Err(e) => scheduler_errors.push(format!("SIGUSR1 to {apache}: {e}")),
            }
        }
        if now >= next_replace {
            next_replace = now + rng.jitter(opts.replace_every);
            let t = clock.now();
            match replace_file(&artifacts.echo, &served_app) {
                Ok(()) => record(FaultKind::Replace, t, clock.now(), None),
                Err(e) => scheduler_errors.push(e),
            }
        }
        if now >= next_bad_deploy {
            next_bad_deploy = now + rng.jitter(opts.bad_deploy_every);
            let t = clock.now();
            let bad = site.apps.join("not-an-app.so");
            let deployed = std::fs::write(&bad, b"#!/bin/sh\necho this is not an app\n")
                .map_err(|e| format!("write {}: {e}", bad.display()))
                .and_then(|()| replace_file(&bad, &served_app));
            // The processes refuse it and serve on; then the good one.
            thread::sleep(Duration::from_millis(1500));
            match deployed.and_then(|()| replace_file(&artifacts.echo, &served_app)) {
                Ok(()) => record(FaultKind::BadDeploy, t, clock.now(), None),
                Err(e) => scheduler_errors.push(e),
            }
        }
        if let (Some(at), Some(every)) = (next_progress, opts.progress)
            && now >= at
        {
            next_progress = Some(now + every);
            eprintln!(
                "chaos: {:>4.0} s: {} requests, {} failed, {} faults",
                clock.now(),
                recorded.sent.load(Ordering::SeqCst),
                recorded.failed.load(Ordering::SeqCst),
                faults.lock().map(|f| f.len()).unwrap_or(0)
            );
        }
    }
    stop.store(true, Ordering::SeqCst);
    for t in threads {
        let _ = t.join();
    }
    let seconds = started.elapsed().as_secs_f64();
    // Let the parent notice and log the last deaths.
    thread::sleep(Duration::from_secs(2));
    let parent_alive = site.server.is_running();
    let log = site.error_log();
    if !scheduler_errors.is_empty() {
        return Err(format!(
            "the chaos itself failed: {}",
            scheduler_errors.join("; ")
        ));
    }
    let samples = std::mem::take(&mut *recorded.samples.lock().unwrap_or_else(|e| e.into_inner()));
    let mut faults = std::mem::take(&mut *faults.lock().unwrap_or_else(|e| e.into_inner()));
    faults.sort_by(|a, b| a.start.total_cmp(&b.start));
    let utc = procfs::utc_offset();
    let mut report = analyze(
        &log,
        clock,
        utc,
        apache,
        &samples,
        &mut faults,
        parent_alive,
    );
    report.seconds = seconds;
    report.clients = opts.clients;
    report.seed = opts.seed;
    report.max_body = opts.max_body;
    report.maximum_requests = opts.maximum_requests;
    report.schedule = format!(
        "every ~{:.1} s a SIGKILL, ~{:.1} s a fault endpoint, ~{:.1} s a graceful restart, ~{:.1} s an .so replacement, ~{:.1} s a bad deploy (±25 %); a slow upload every ~{:.1} s",
        opts.kill_every.as_secs_f64(),
        opts.fault_every.as_secs_f64(),
        opts.graceful_every.as_secs_f64(),
        opts.replace_every.as_secs_f64(),
        opts.bad_deploy_every.as_secs_f64(),
        opts.slow_every.as_secs_f64() + 3.2
    );
    report.bytes_sent = *recorded.bytes.lock().unwrap_or_else(|e| e.into_inner());
    if opts.keep {
        report.kept = Some(site.root.path.display().to_string());
    }
    Ok(report)
}

/// When a process may have died, and why.
#[derive(Clone, Debug)]
struct Window {
    pid: Option<u32>,
    from: f64,
    to: f64,
    kind: FaultKind,
}

/// The longest a crash window may be: the fault request that crashed the
/// process, at most its last second.
const CRASH_WINDOW: f64 = 1.0;
/// Clock slack between a kill and a request's times.
const SLACK: f64 = 0.05;

/// `apache`: the pid of Apache's parent. Before a daemon process takes a
/// request (ACCEPTED), an Apache child knows no daemon pid; its lines may
/// then name the socket's creator (SO_PEERCRED), Apache's parent, which is
/// no daemon.
fn analyze(
    log: &str,
    clock: Clock,
    utc: i64,
    apache: u32,
    samples: &[Sample],
    faults: &mut [Fault],
    parent_alive: bool,
) -> Report {
    // The Apache children's lines about a request to a daemon: client port
    // → (time, daemon pid).
    // Apache children's lines about a request: client port → (time, the
    // daemon pid when named, the message).
    let mut by_port: HashMap<u16, Vec<(f64, Option<u32>, String)>> = HashMap::new();
    for line in log.lines() {
        let e = logs::parse_line(line, utc);
        let (Some(port), Some(t)) = (e.client_port, e.time) else {
            continue;
        };
        if !e.message.starts_with(&format!("group {GROUP}")) {
            continue;
        }
        let pid = e
            .message
            .strip_prefix(&format!("group {GROUP}, pid "))
            .and_then(|rest| {
                rest.chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
                    .parse()
                    .ok()
            })
            .filter(|pid| *pid != apache);
        by_port
            .entry(port)
            .or_default()
            .push((clock.since_start(t), pid, e.message.to_owned()));
    }
    let lines_for = |port: Option<u16>, from: f64, to: f64| {
        port.and_then(|p| by_port.get(&p))
            .into_iter()
            .flatten()
            .filter(move |(t, _, _)| *t >= from - 0.5 && *t <= to + 0.5)
    };
    let served_by = |port: Option<u16>, from: f64, to: f64| -> Option<u32> {
        lines_for(port, from, to).find_map(|(_, pid, _)| *pid)
    };
    let deaths = logs::daemon_deaths(log, utc);

    // Which process each crash fault killed.
    for f in faults.iter_mut() {
        if f.pid.is_some() || f.kind.path().is_none() {
            continue;
        }
        f.pid = served_by(f.port, f.start, f.end).or_else(|| {
            let how = f.kind.death()?;
            deaths
                .iter()
                .find(|d| {
                    d.how.contains(how)
                        && d.time.is_some_and(|t| {
                            let t = clock.since_start(t);
                            t >= f.start - 0.5 && t <= f.end + 2.0
                        })
                })
                .map(|d| d.pid)
        });
    }
    let mut windows: Vec<Window> = Vec::new();
    for f in faults.iter() {
        match f.kind {
            FaultKind::Sigkill => windows.push(Window {
                pid: f.pid,
                from: f.start,
                to: f.end,
                kind: f.kind,
            }),
            k if k.kills() && f.status == Some(502) => windows.push(Window {
                pid: f.pid,
                from: f.start.max(f.end - CRASH_WINDOW),
                to: f.end,
                kind: f.kind,
            }),
            _ => {}
        }
    }

    let mut report = Report {
        parent_alive,
        ..Report::default()
    };
    let mut latencies = Vec::new();
    let mut served_pids = BTreeSet::new();
    for s in samples {
        report.requests += 1;
        let (status, why) = match &s.got {
            Got::Ok { pid } => {
                served_pids.insert(*pid);
                report.ok += 1;
                latencies.push((s.end - s.start) * 1000.0);
                continue;
            }
            Got::Corrupt(why) => {
                report.corrupt.push(format!(
                    "client {} #{} at {:.3}..{:.3} s: {why}",
                    s.client, s.seq, s.start, s.end
                ));
                continue;
            }
            Got::Failed { status, why } => (*status, why),
        };
        let label = status.map_or_else(|| "no response".to_owned(), |s| s.to_string());
        *report.failed_by_status.entry(label).or_default() += 1;
        let served = served_by(s.port, s.start, s.end);
        let window = (status == Some(502))
            .then(|| {
                windows.iter().find(|w| {
                    s.start <= w.to + SLACK
                        && s.end >= w.from - SLACK
                        && (served.is_none() || w.pid.is_none() || w.pid == served)
                })
            })
            .flatten();
        match window {
            Some(w) => {
                let cause = format!(
                    "in flight at {} of {}",
                    match w.kind {
                        FaultKind::Sigkill => "a SIGKILL",
                        FaultKind::Abort => "an /abort",
                        FaultKind::Segfault => "a /segfault",
                        FaultKind::Exit => "an /exit",
                        _ => "a fault",
                    },
                    if served.is_some() {
                        "the process serving it (pid from error_log)"
                    } else {
                        "a process (by time)"
                    }
                );
                *report.failed_by_cause.entry(cause).or_default() += 1;
            }
            None => {
                let why: String = why.split_whitespace().collect::<Vec<_>>().join(" ");
                let logged: Vec<&str> = lines_for(s.port, s.start, s.end)
                    .map(|(_, _, m)| m.as_str())
                    .collect();
                let near: Vec<String> = windows
                    .iter()
                    .filter(|w| s.start <= w.to + 1.0 && s.end >= w.from - 1.0)
                    .map(|w| {
                        format!(
                            "{:?} of pid {:?} at {:.3}..{:.3} s",
                            w.kind, w.pid, w.from, w.to
                        )
                    })
                    .collect();
                report.unexplained.push(format!(
                    "client {} #{} at {:.3}..{:.3} s, port {:?}, served by {:?}: {} {}; \
                     error_log: {:?}; faults within 1 s: {:?}",
                    s.client,
                    s.seq,
                    s.start,
                    s.end,
                    s.port,
                    served,
                    status.map_or("-".to_owned(), |s| s.to_string()),
                    why.chars().take(80).collect::<String>(),
                    logged,
                    near
                ));
            }
        }
    }
    if !report.unexplained.is_empty() {
        *report
            .failed_by_cause
            .entry("not in flight at a fault".to_owned())
            .or_default() += report.unexplained.len();
    }
    report.processes_served = served_pids.len();
    latencies.sort_by(f64::total_cmp);
    report.latency_ms = (
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(0.0),
    );

    for f in faults.iter() {
        report.timeline.push(format!(
            "{:8.3} .. {:8.3} s  {:<9} pid {:<8} {}",
            f.start,
            f.end,
            format!("{:?}", f.kind),
            f.pid.map_or("?".to_owned(), |p| p.to_string()),
            f.status.map_or(String::new(), |s| format!("answered {s}"))
        ));
        let tally = report.faults.entry(f.kind).or_default();
        tally.injected += 1;
        if f.kind.path().is_some() {
            let label = f
                .status
                .map_or_else(|| "no response".to_owned(), |s| s.to_string());
            *tally.answers.entry(label).or_default() += 1;
        }
    }

    let killed: BTreeSet<u32> = faults.iter().filter_map(|f| f.pid).collect();
    report.child_crashes = logs::child_crashes(log, &killed);
    for d in deaths.iter().filter(|d| d.group == GROUP) {
        let how = if d.retired {
            format!("retired, {}", d.how)
        } else {
            d.how.clone()
        };
        *report.daemon_ends.entry(how).or_default() += 1;
        if !d.is_clean() && !killed.contains(&d.pid) {
            report.unexplained_deaths.push(format!(
                "process {} {}{}",
                d.pid,
                d.how,
                if d.retired { " (retired)" } else { "" }
            ));
        }
    }
    for line in log.lines() {
        let e = logs::parse_line(line, 0);
        if !e.message.starts_with(&format!("group {GROUP}")) {
            continue;
        }
        if e.message.contains(": process ") && e.message.contains(" ready") {
            report.processes_started += 1;
        }
        if e.message.contains("(maximum-requests)") {
            report.recycled_max_requests += 1;
        }
        if e.message.contains("(request-timeout)") {
            report.recycled_request_timeout += 1;
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_reproducible_and_spreads() {
        let mut a = Rng::new(7);
        let mut b = Rng::new(7);
        let xs: Vec<u64> = (0..100).map(|_| a.below(10)).collect();
        let ys: Vec<u64> = (0..100).map(|_| b.below(10)).collect();
        assert_eq!(xs, ys);
        assert!((0..10).all(|d| xs.contains(&d)));
        let j = a.jitter(Duration::from_secs(4));
        assert!(j >= Duration::from_secs(3) && j <= Duration::from_secs(5));
    }

    #[test]
    fn attribution() {
        let clock = Clock {
            start: Instant::now(),
            unix: 1_795_270_780.0,
        };
        // At +9.85 s the Apache child logs that pid 20855 died under the
        // request from port 35056.
        let log = "\
[Sat Nov 21 14:19:49.854842 2026] [rustgi:error] [pid 20858:tid 20861] [client 127.0.0.1:35056] group chaos, pid 20855: process 20855 closed the connection
[Sat Nov 21 14:19:49.860000 2026] [rustgi:error] [pid 20853:tid 20853] group chaos: process 20855 killed by signal 9 (SIGKILL); starting a new one
";
        let sample = |port, start, end, status| Sample {
            client: 0,
            seq: 0,
            start,
            end,
            port: Some(port),
            got: Got::Failed {
                status,
                why: String::new(),
            },
        };
        let kill = |pid| Fault {
            kind: FaultKind::Sigkill,
            start: 9.80,
            end: 9.801,
            pid: Some(pid),
            status: None,
            port: None,
        };
        // In flight at the kill of its process: explained.
        let r = analyze(
            log,
            clock,
            0,
            20853,
            &[sample(35056, 9.7, 9.86, Some(502))],
            &mut [kill(20855)],
            true,
        );
        assert!(r.unexplained.is_empty(), "{:?}", r.unexplained);
        assert_eq!(r.failed_by_cause.values().sum::<usize>(), 1);
        // The kill of another process does not explain it.
        let r = analyze(
            log,
            clock,
            0,
            20853,
            &[sample(35056, 9.7, 9.86, Some(502))],
            &mut [kill(1)],
            true,
        );
        assert_eq!(r.unexplained.len(), 1);
        // Nor a kill while it was not in flight.
        let r = analyze(
            log,
            clock,
            0,
            20853,
            &[sample(40000, 9.9, 9.95, Some(502))],
            &mut [kill(20855)],
            true,
        );
        assert_eq!(r.unexplained.len(), 1);
        // Nor anything but a 502.
        let r = analyze(
            log,
            clock,
            0,
            20853,
            &[sample(35056, 9.7, 9.86, Some(503))],
            &mut [kill(20855)],
            true,
        );
        assert_eq!(r.unexplained.len(), 1);
        // A line that names Apache's parent (a request its process died
        // with before taking it): the pid is unknown, the time decides.
        let log = "\
[Sat Nov 21 14:19:49.854842 2026] [rustgi:error] [pid 20858:tid 20861] [client 127.0.0.1:35058] group chaos, pid 20853: the daemon closed the connection before taking the request: Connection reset by peer (os error 104)
";
        let r = analyze(
            log,
            clock,
            0,
            20853,
            &[sample(35058, 9.7, 9.86, Some(502))],
            &mut [kill(20855)],
            true,
        );
        assert!(r.unexplained.is_empty(), "{:?}", r.unexplained);
        assert!(
            r.failed_by_cause.keys().all(|k| k.ends_with("(by time)")),
            "{:?}",
            r.failed_by_cause
        );
    }
}
