//! Past one machine: three Apache + mod_rustgi hosts behind HAProxy, the
//! deployment docs/scaling.md describes, built on this machine.
//!
//! The test makes its own network namespaces: one for HAProxy and the
//! clients, one per host, each host on its own address of a veth pair
//! (10.77.N.2, the balancer's end 10.77.N.1); nothing else is routed, and
//! every request goes to the test's own addresses. HAProxy runs
//! `conf/haproxy.cfg` as it is (the file the guide shows), Apache a
//! generated configuration with the `cluster` test app in a daemon group.
//!
//! Under steady load (bounded in count and time) it goes through a rolling
//! deploy (a new build of the app's `.so` on each host in turn), a graceful
//! stop and start of one host (drained first: its health check says 503),
//! a kill -9 of a whole Apache, and a daemon group that crashes on one host
//! only, and asserts:
//! * no request fails through the rolling deploy and the graceful stop, nor
//!   between events;
//! * through the kill, only requests in flight on that host fail, and none
//!   that HAProxy may send again (GET): each is a POST HAProxy logged on
//!   that host;
//! * a session cookie made on one host is honoured on the others;
//! * the health check takes a host out of rotation and back in (HAProxy's
//!   own log says so, and no new request reaches a host while it is out).
//!
//! It also runs `conf/rustgi-balancer.conf` (the guide's mod_proxy_balancer
//! variant) in a fourth Apache beside HAProxy. The figures it prints are
//! the ones the guide and RELIABILITY.md quote.
//!
//! It needs root (namespaces, Apache's `User`), `ip` (iproute2) and
//! `haproxy`; without root or namespaces it says why and skips.

use crate::common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use common::daemon::{daemon_children, poll_until, replace_file, require_daemon, send_signal};
use common::http::{self, Request, Response};
use common::{Artifact, TestServer, TestServerBuilder};
use rustgi::apache::Server;
use rustgi::httpd_conf::HttpdConf;
use serde_json::Value;

/// How many Apache hosts.
const HOSTS: usize = 3;
/// The daemon group every host runs the app in.
const GROUP: &str = "app";
/// The one `secret_key` of the site: every host signs sessions with it.
const SECRET: &str = "one secret_key for every host of the site: 0123456789";
/// The load: clients that send short requests, and clients whose requests
/// take a while (so that some are in flight on every host at any time).
const FAST_CLIENTS: usize = 5;
const SLOW_CLIENTS: usize = 5;
/// The most requests a client sends.
const MAX_PER_CLIENT: usize = 20_000;
/// How long a slow client's requests work: 150 ms for the first, 60 ms
/// more for each next one, so that they are in flight at different times.
const SLOW_MS: u64 = 150;
/// How long the requests sent just before the kill work: long enough to be
/// in flight when it comes.
const PROBE_MS: u64 = 2000;
/// The size of an order (a POST body).
const ORDER_BYTES: usize = 256;
/// The load stops by then, whatever happens.
const RUN_LIMIT: Duration = Duration::from_secs(240);
/// How long one step of an event may take before the test gives up.
const STEP: Duration = Duration::from_secs(30);
/// The build stamp of `tests/apps/cluster` as built, and its length; a
/// deploy brings a copy of the library with another name in it.
const STAMP_PREFIX: &[u8] = b"rustgi-cluster-build:";
const BUILT_STAMP: &[u8] = b"rustgi-cluster-build:v1#########";

fn lb_side(host: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 77, host as u8, 1)
}

fn host_ip(host: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 77, host as u8, 2)
}

fn host_addr(host: usize) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(host_ip(host), 80))
}

/// HAProxy's frontend, from inside the balancer's namespace.
fn haproxy_addr() -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 80))
}

/// The mod_proxy_balancer variant, from inside the balancer's namespace.
fn balancer_addr() -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8080))
}

fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

// ---------------------------------------------------------------- namespaces

/// Runs `ip ARGS`; the error says what failed and why.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The processes in network namespace `ns` (not this one).
fn pids_in(ns: &str) -> Vec<u32> {
    let Ok(meta) = fs::metadata(format!("/run/netns/{ns}")) else {
        return Vec::new();
    };
    let want = format!("net:[{}]", meta.ino());
    let me = std::process::id();
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .filter(|pid| {
            fs::read_link(format!("/proc/{pid}/ns/net"))
                .is_ok_and(|link| link.to_string_lossy() == want)
        })
        .collect()
}

fn kill_all_in(ns: &str) -> Vec<u32> {
    let pids = pids_in(ns);
    for &pid in &pids {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
    }
    pids
}

/// The namespaces of one run, named after this process: every process in
/// them is killed and they are deleted when it is dropped (the test failed
/// or not).
struct Lab {
    prefix: String,
    made: Vec<String>,
}

impl Lab {
    fn lb(&self) -> String {
        format!("{}-lb", self.prefix)
    }

    fn host(&self, i: usize) -> String {
        format!("{}-web{i}", self.prefix)
    }

    fn create() -> Result<Lab, String> {
        sweep_stale_namespaces();
        let mut lab = Lab {
            prefix: format!("rgmh{}", std::process::id()),
            made: Vec::new(),
        };
        let lb = lab.lb();
        lab.add(&lb)?;
        ip(&["-n", &lb, "link", "set", "lo", "up"])?;
        for i in 1..=HOSTS {
            let ns = lab.host(i);
            lab.add(&ns)?;
            let veth = format!("web{i}");
            ip(&[
                "link", "add", &veth, "netns", &lb, "type", "veth", "peer", "name", "eth0",
                "netns", &ns,
            ])?;
            ip(&[
                "-n",
                &lb,
                "addr",
                "add",
                &format!("{}/24", lb_side(i)),
                "dev",
                &veth,
            ])?;
            ip(&["-n", &lb, "link", "set", &veth, "up"])?;
            ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{}/24", host_ip(i)),
                "dev",
                "eth0",
            ])?;
            ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        }
        Ok(lab)
    }

    fn add(&mut self, ns: &str) -> Result<(), String> {
        ip(&["netns", "add", ns])?;
        self.made.push(ns.to_owned());
        Ok(())
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in self.made.iter().rev() {
            kill_all_in(ns);
            let _ = ip(&["netns", "del", ns]);
        }
    }
}

/// Namespaces of earlier runs whose process is gone (killed before it could
/// clean up): their processes are killed and they are deleted.
fn sweep_stale_namespaces() {
    let Ok(dir) = fs::read_dir("/run/netns") else {
        return;
    };
    for name in dir.filter_map(|e| e.ok()?.file_name().into_string().ok()) {
        let Some(rest) = name.strip_prefix("rgmh") else {
            continue;
        };
        let pid: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if pid.is_empty() || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        kill_all_in(&name);
        let _ = ip(&["netns", "del", &name]);
    }
}

/// Moves the calling thread into network namespace `ns` (a thread's own
/// namespace: the rest of the process stays where it is).
fn enter_netns(ns: &str) -> Result<(), String> {
    let file = File::open(format!("/run/netns/{ns}")).map_err(|e| format!("netns {ns}: {e}"))?;
    // SAFETY: setns with a namespace file descriptor that stays open for
    // the call; it changes only the calling thread's network namespace.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc == 0 {
        Ok(())
    } else {
        Err(format!("setns {ns}: {}", std::io::Error::last_os_error()))
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// A thread living in a network namespace that runs what it is given:
/// processes it starts (Apache, HAProxy) are in that namespace, and they
/// get SIGTERM/SIGKILL if it ends (PR_SET_PDEATHSIG), so it lives as long
/// as they do.
struct NsThread {
    jobs: Option<mpsc::Sender<Job>>,
    handle: Option<JoinHandle<()>>,
}

impl NsThread {
    fn enter(ns: &str) -> Result<NsThread, String> {
        let (jobs, incoming) = mpsc::channel::<Job>();
        let (ready_tx, ready) = mpsc::channel();
        let name = ns.to_owned();
        let handle = thread::Builder::new()
            .name(format!("netns {ns}"))
            .spawn(move || {
                let entered = enter_netns(&name);
                let ok = entered.is_ok();
                let _ = ready_tx.send(entered);
                if ok {
                    for job in incoming {
                        job();
                    }
                }
            })
            .map_err(|e| format!("spawn a thread: {e}"))?;
        ready
            .recv()
            .map_err(|_| "the namespace thread died".to_owned())??;
        Ok(NsThread {
            jobs: Some(jobs),
            handle: Some(handle),
        })
    }

    /// Runs `f` in the namespace and returns what it returns (a panic in it
    /// goes on in the caller).
    fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = mpsc::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(catch_unwind(AssertUnwindSafe(f)));
        });
        self.jobs
            .as_ref()
            .expect("the thread runs")
            .send(job)
            .expect("the namespace thread is gone");
        match rx.recv().expect("the namespace thread is gone") {
            Ok(value) => value,
            Err(panic) => resume_unwind(panic),
        }
    }
}

impl Drop for NsThread {
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

// ---------------------------------------------------------------- the hosts

/// A copy of the app's library that says it is build `name`: the same code
/// with its build stamp changed, as a new build would be.
fn stamped_build(app: &[u8], name: &str) -> Vec<u8> {
    let at = app
        .windows(BUILT_STAMP.len())
        .position(|w| w == BUILT_STAMP)
        .expect("the build stamp is in the library");
    assert!(
        app[at + 1..]
            .windows(BUILT_STAMP.len())
            .all(|w| w != BUILT_STAMP),
        "the build stamp is in the library once"
    );
    let mut stamp = STAMP_PREFIX.to_vec();
    stamp.extend_from_slice(name.as_bytes());
    assert!(stamp.len() <= BUILT_STAMP.len(), "a short build name");
    stamp.resize(BUILT_STAMP.len(), b'#');
    let mut out = app.to_vec();
    out[at..at + stamp.len()].copy_from_slice(&stamp);
    out
}

/// One Apache + mod_rustgi host, in its namespace.
struct Host {
    i: usize,
    name: String,
    ns: NsThread,
    builder: TestServerBuilder,
    app: PathBuf,
    server: Option<Server>,
}

impl Host {
    fn new(i: usize, ns: &str) -> Result<Host, String> {
        let mut builder = TestServer::builder().config(&format!(
            "RustgiDaemonProcess {GROUP} processes=2 threads=4 queue-timeout=10 \
             request-timeout=30 graceful-timeout=10 home=@ROOT@\n\
             RustgiScriptAlias /app @APPS@/libcluster.so process-group={GROUP}\n\
             RustgiAppConfig secret_key \"{SECRET}\"\n\
             RustgiAppConfig crash_file @ROOT@/crash\n\
             <Location /rustgi-status>\n\
             \x20   SetHandler rustgi-status\n\
             \x20   Require ip {}\n\
             </Location>",
            lb_side(i)
        ));
        let app = builder.add_app(Artifact::Cluster);
        Ok(Host {
            i,
            name: format!("web{i}"),
            ns: NsThread::enter(ns)?,
            builder,
            app,
            server: None,
        })
    }

    fn root(&self) -> &Path {
        self.builder.root()
    }

    fn start(&mut self) {
        let conf = self
            .builder
            .httpd_conf(80)
            .listen_host(host_ip(self.i).to_string());
        let started = self.ns.run(move || Server::start(&conf));
        match started {
            Ok(server) => self.server = Some(server),
            Err(e) => panic!("{}: apache did not start: {e}", self.name),
        }
    }

    fn apache_pid(&self) -> u32 {
        self.server.as_ref().expect("apache runs").pid()
    }

    fn is_running(&mut self) -> bool {
        self.server.as_mut().is_some_and(Server::is_running)
    }

    fn error_log(&self) -> String {
        fs::read_to_string(self.root().join("error_log")).unwrap_or_default()
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Some(mut server) = self.server.take() {
            let _ = server.stop();
        }
        if thread::panicking() {
            eprintln!(
                "===== {} error_log (last 60 lines) =====\n{}",
                self.name,
                tail(&self.error_log(), 60)
            );
        }
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

// ---------------------------------------------------------------- HAProxy

/// HAProxy with `conf/haproxy.cfg`, in the balancer's namespace: its
/// output in a file, its syslog lines (UDP to 127.0.0.1:514 of that
/// namespace) gathered by [`Syslog`].
struct Haproxy {
    child: Child,
    log: PathBuf,
    syslog: Syslog,
}

/// A syslog receiver on 127.0.0.1:514 in the balancer's namespace: the
/// message of each datagram, one a line.
struct Syslog {
    lines: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Syslog {
    fn start(lb: &NsThread) -> Syslog {
        let socket = lb
            .run(|| std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 514)))
            .expect("bind the syslog port in the balancer's namespace");
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("set a read timeout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (out, stopped) = (lines.clone(), stop.clone());
        let handle = thread::spawn(move || {
            let mut buf = vec![0u8; 65536];
            while !stopped.load(Ordering::SeqCst) {
                let Ok(n) = socket.recv(&mut buf) else {
                    continue;
                };
                let text = String::from_utf8_lossy(&buf[..n]);
                // RFC 3164: <PRI>TIMESTAMP HOST haproxy[PID]: MESSAGE
                let message = text
                    .find("]: ")
                    .map_or(&*text, |at| &text[at + 3..])
                    .trim_end()
                    .to_owned();
                out.lock().unwrap_or_else(|e| e.into_inner()).push(message);
            }
        });
        Syslog {
            lines,
            stop,
            handle: Some(handle),
        }
    }

    fn text(&self) -> String {
        let lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        let mut text = lines.join("\n");
        text.push('\n');
        text
    }
}

impl Drop for Syslog {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

impl Haproxy {
    fn start(lb: &NsThread, dir: &Path) -> Haproxy {
        let syslog = Syslog::start(lb);
        let log = dir.join("haproxy.log");
        let config = repo_file("conf/haproxy.cfg");
        let out = File::create(&log).expect("create haproxy.log");
        let child = lb.run(move || {
            let mut cmd = Command::new("haproxy");
            cmd.arg("-db").arg("-f").arg(&config);
            for i in 1..=HOSTS {
                cmd.env(format!("WEB{i}"), host_addr(i).to_string());
            }
            cmd.stdin(Stdio::null())
                .stdout(out.try_clone().expect("dup"))
                .stderr(out)
                .process_group(0);
            // SAFETY: the closure runs in the forked child before exec and
            // only calls prctl, which is async-signal-safe.
            unsafe {
                cmd.pre_exec(|| {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            cmd.spawn()
        });
        let child = child.expect("start haproxy");
        Haproxy { child, log, syslog }
    }

    /// What HAProxy logged: its output, then its syslog lines.
    fn text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default() + &self.syslog.text()
    }

    /// How many lines say that `server` went `state` (UP or DOWN).
    fn transitions(&self, server: &str, state: &str) -> Vec<String> {
        let needle = format!("Server apache/{server} is {state}");
        self.syslog
            .text()
            .lines()
            .filter(|l| l.contains(&needle))
            .map(str::to_owned)
            .collect()
    }

    /// Waits for HAProxy to say that `server` went `state`, past the
    /// `seen` such lines there were; the line and when it was seen.
    fn wait_transition(&self, server: &str, state: &str, seen: usize) -> (String, Instant) {
        let line = poll_until(STEP, Duration::from_millis(20), || {
            self.transitions(server, state).get(seen).cloned()
        })
        .unwrap_or_else(|| {
            panic!(
                "HAProxy never said {server} is {state}; its log:\n{}",
                tail(&self.text(), 40)
            )
        });
        (line, Instant::now())
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if thread::panicking() {
            eprintln!(
                "===== haproxy log (last 40 lines) =====\n{}",
                tail(&self.text(), 40)
            );
        }
    }
}

/// A request HAProxy logged (`option httplog`, raw).
#[derive(Clone, Debug)]
struct Logged {
    server: String,
    status: Option<u16>,
    /// Termination state (`----` when it ended normally).
    termination: String,
    /// Times it was sent again (to another host when redispatched).
    retries: u32,
}

/// The requests of HAProxy's log, by X-Request-Id.
fn parse_haproxy_log(text: &str) -> BTreeMap<String, Logged> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        // client [date] frontend backend/server timers status bytes
        // cookie cookie termination conns queues {id} "METHOD uri proto"
        if fields.len() < 14 || fields[2] != "www" || !fields[12].starts_with('{') {
            continue;
        }
        let Some((_, server)) = fields[3].split_once('/') else {
            continue;
        };
        let retries_field = fields[10].rsplit('/').next().unwrap_or("0");
        let id = fields[12].trim_matches(|c| c == '{' || c == '}').to_owned();
        out.insert(
            id,
            Logged {
                server: server.to_owned(),
                status: fields[5].parse().ok(),
                termination: fields[9].to_owned(),
                retries: retries_field.trim_start_matches('+').parse().unwrap_or(0),
            },
        );
    }
    out
}

// ---------------------------------------------------------------- the load

/// One request of the load.
#[derive(Clone, Debug)]
struct Sample {
    id: String,
    method: &'static str,
    start: Instant,
    end: Instant,
    /// The host that answered (its address), from the app's answer.
    host: Option<String>,
    build: Option<String>,
    /// Why it failed, when it did.
    failure: Option<(Option<u16>, String)>,
}

impl Sample {
    fn ok(&self) -> bool {
        self.failure.is_none()
    }
}

struct Load {
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<Sample>>>,
    handles: Vec<JoinHandle<()>>,
}

impl Load {
    /// Starts the clients in namespace `ns`; they send to HAProxy only.
    fn start(ns: &str, deadline: Instant) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let handles = (0..FAST_CLIENTS + SLOW_CLIENTS)
            .map(|client| {
                let (stop, samples, ns) = (stop.clone(), samples.clone(), ns.to_owned());
                thread::spawn(move || {
                    // Nothing is sent unless the thread is in the balancer's
                    // namespace.
                    enter_netns(&ns).expect("a client enters the balancer's namespace");
                    let slow = client.checked_sub(FAST_CLIENTS);
                    for seq in 0..MAX_PER_CLIENT {
                        if stop.load(Ordering::SeqCst) || Instant::now() >= deadline {
                            break;
                        }
                        let sample = one_request(client, seq, slow);
                        samples
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(sample);
                        let think = slow.map_or(20, |k| 30 + 10 * k as u64);
                        thread::sleep(Duration::from_millis(think));
                    }
                })
            })
            .collect();
        Load {
            stop,
            samples,
            handles,
        }
    }

    fn count(&self) -> usize {
        self.samples.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    fn snapshot(&self) -> Vec<Sample> {
        self.samples
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn stop(mut self) -> Vec<Sample> {
        self.stop.store(true, Ordering::SeqCst);
        for h in self.handles.drain(..) {
            h.join().expect("a client thread panicked");
        }
        let mut samples = self.snapshot();
        samples.sort_by_key(|s| s.start);
        samples
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Client `client`'s request number `seq`: GETs and POSTs in turn, quick
/// ones, or for slow client number `k` ones that work
/// [`SLOW_MS`] + 60 × k ms.
fn one_request(client: usize, seq: usize, slow: Option<usize>) -> Sample {
    let id = format!("c{client}-{seq}");
    let post = seq % 2 == 1;
    let target = match (post, slow) {
        (true, None) => "/app/orders?ms=0".to_owned(),
        (false, None) => "/app/".to_owned(),
        (true, Some(k)) => format!("/app/orders?ms={}", SLOW_MS + 60 * k as u64),
        (false, Some(k)) => format!("/app/slow?ms={}", SLOW_MS + 60 * k as u64),
    };
    send_sample(id, post, &target)
}

/// Sends one request of the load to HAProxy and checks the answer.
fn send_sample(id: String, post: bool, target: &str) -> Sample {
    let req = if post {
        Request::post(target).body(vec![b'o'; ORDER_BYTES])
    } else {
        Request::get(target)
    };
    let req = req.header("X-Request-Id", &id);
    let start = Instant::now();
    let result = http::send(haproxy_addr(), &req);
    let end = Instant::now();
    let mut sample = Sample {
        id,
        method: if post { "POST" } else { "GET" },
        start,
        end,
        host: None,
        build: None,
        failure: None,
    };
    match result {
        Err(e) => sample.failure = Some((None, e.to_string())),
        Ok(resp) => {
            let json: Option<Value> = serde_json::from_slice(&resp.body).ok();
            let field = |name: &str| {
                json.as_ref()
                    .and_then(|j| j.get(name))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            };
            sample.host = field("host");
            sample.build = field("build");
            let right_order = !post
                || json
                    .as_ref()
                    .and_then(|j| j["order_bytes"].as_u64())
                    .is_some_and(|n| n == ORDER_BYTES as u64);
            if resp.status() != 200 || sample.host.is_none() || !right_order {
                sample.failure =
                    Some((Some(resp.status()), resp.text().chars().take(200).collect()));
            }
        }
    }
    sample
}

// ---------------------------------------------------------------- events

/// Sends `req` from the balancer's namespace to `addr`.
fn send_from(lb: &NsThread, addr: SocketAddr, req: Request) -> Response {
    lb.run(move || http::send(addr, &req))
        .unwrap_or_else(|e| panic!("request to {addr}: {e}"))
}

/// A host's health check, asked directly (as HAProxy asks it).
fn health(lb: &NsThread, host: usize) -> Option<(u16, Value)> {
    let resp = lb
        .run(move || http::send(host_addr(host), &Request::get("/rustgi-status?health")))
        .ok()?;
    Some((resp.status(), serde_json::from_slice(&resp.body).ok()?))
}

fn wait_health(lb: &NsThread, host: usize, want: impl Fn(u16, &Value) -> bool) -> Value {
    let mut last = None;
    poll_until(STEP, Duration::from_millis(50), || {
        let (status, json) = health(lb, host)?;
        let hit = want(status, &json);
        last = Some((status, json.clone()));
        hit.then_some(json)
    })
    .unwrap_or_else(|| panic!("web{host}: the health check never said so; last: {last:?}"))
}

/// Waits until `host` serves build `build` on several requests in a row.
fn wait_build(lb: &NsThread, host: usize, build: &str) {
    let mut in_a_row = 0;
    poll_until(STEP, Duration::from_millis(50), || {
        let json: Value =
            serde_json::from_slice(&send_from(lb, host_addr(host), Request::get("/app/")).body)
                .ok()?;
        if json["build"] == build {
            in_a_row += 1;
        } else {
            in_a_row = 0;
        }
        (in_a_row >= 6).then_some(())
    })
    .unwrap_or_else(|| panic!("web{host} never served build {build}"));
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// Why the test cannot run here, if it cannot.
fn unmet_needs() -> Option<String> {
    if !common::running_as_root() {
        return Some("network namespaces need root (CI runs the tests as root)".into());
    }
    if Command::new("ip").arg("-V").output().is_err() {
        return Some("`ip` is missing (apt-get install iproute2)".into());
    }
    None
}

// ---------------------------------------------------------------- the tests

/// The guide shows the very files the test runs.
#[test]
fn the_guide_shows_the_files_the_test_runs() {
    let guide = fs::read_to_string(repo_file("docs/scaling.md")).expect("docs/scaling.md");
    for conf in ["conf/haproxy.cfg", "conf/rustgi-balancer.conf"] {
        let text = fs::read_to_string(repo_file(conf)).expect(conf);
        assert!(
            guide.contains(&text),
            "docs/scaling.md must show {conf} verbatim (copy the file into its code block)"
        );
    }
}

/// One event of the run and its window.
struct Event {
    name: &'static str,
    start: Instant,
    end: Instant,
}

/// What the events leave for the checks and the figures.
#[derive(Default)]
struct Record {
    events: Vec<Event>,
    notes: Vec<String>,
}

impl Record {
    fn event(&mut self, name: &'static str, start: Instant) {
        self.events.push(Event {
            name,
            start,
            end: Instant::now(),
        });
    }

    fn note(&mut self, text: String) {
        self.notes.push(text);
    }

    /// The event a request overlaps, if any.
    fn phase_of(&self, s: &Sample) -> Option<usize> {
        self.events
            .iter()
            .position(|e| s.end >= e.start && s.start <= e.end)
    }
}

/// The indexes of the events in [`Record::events`].
const DEPLOY: usize = 0;
const GRACEFUL: usize = 1;
const KILL: usize = 2;
const CRASH: usize = 3;

/// When HAProxy took a host out of rotation and put it back.
type Window = (Instant, Instant);

/// A cookie made on one host (through HAProxy) is honoured on every host,
/// and a tampered one on none; the host that made it.
fn check_sessions(lb: &NsThread) -> String {
    let login = send_from(lb, haproxy_addr(), Request::post("/app/login?user=ann"));
    assert_eq!(login.status(), 200, "{}", login.text());
    let made_on = login.json()["host"].as_str().unwrap().to_owned();
    let cookie = login
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_owned();
    let mut tampered = cookie.clone().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    for i in 1..=HOSTS {
        let me = send_from(
            lb,
            host_addr(i),
            Request::get("/app/me").header("Cookie", &cookie),
        );
        assert_eq!(me.status(), 200, "web{i}: {}", me.text());
        assert_eq!(me.json()["user"], "ann");
        assert_eq!(me.json()["host"], host_ip(i).to_string());
        let forged = send_from(
            lb,
            host_addr(i),
            Request::get("/app/me").header("Cookie", &tampered),
        );
        assert_eq!(forged.status(), 401, "web{i} took a tampered cookie");
    }
    made_on
}

/// The guide's mod_proxy_balancer variant, on 127.0.0.1:8080 of the
/// balancer's namespace; checked to spread requests over every host.
fn start_balancer(lb: &NsThread, dir: &Path) -> Server {
    let mut conf = HttpdConf::new(dir, 8080).listen_host("127.0.0.1");
    for m in [
        "proxy",
        "proxy_http",
        "slotmem_shm",
        "proxy_balancer",
        "lbmethod_byrequests",
        "proxy_hcheck",
    ] {
        conf = conf.module(m);
    }
    let mut defines = String::new();
    for i in 1..=HOSTS {
        let _ = writeln!(defines, "Define WEB{i} {}", host_addr(i));
    }
    let conf = conf.extra(format!(
        "{defines}Include {}",
        rustgi::httpd_conf::quote_path(&repo_file("conf/rustgi-balancer.conf"))
    ));
    let balancer = lb
        .run(move || Server::start(&conf))
        .unwrap_or_else(|e| panic!("the mod_proxy_balancer variant did not start: {e}"));
    let mut seen = BTreeMap::new();
    for _ in 0..30 {
        let resp = send_from(lb, balancer_addr(), Request::get("/app/"));
        assert_eq!(
            resp.status(),
            200,
            "through mod_proxy_balancer: {}",
            resp.text()
        );
        *seen
            .entry(resp.json()["host"].as_str().unwrap_or("?").to_owned())
            .or_insert(0) += 1;
    }
    assert_eq!(seen.len(), HOSTS, "mod_proxy_balancer spreads: {seen:?}");
    balancer
}

/// Whether mod_proxy_balancer sends any of six requests to `host`.
fn balancer_sends_to(lb: &NsThread, host: usize) -> bool {
    (0..6).any(|_| {
        send_from(lb, balancer_addr(), Request::get("/app/")).json()["host"]
            == host_ip(host).to_string()
    })
}

/// 1. A new build of the app's `.so` on each host in turn, renamed over the
///    old one: each host's group reloads gracefully.
fn rolling_deploy(lb: &NsThread, hosts: &[Host], rec: &mut Record) {
    let start = Instant::now();
    let v2 = stamped_build(&fs::read(&hosts[0].app).unwrap(), "v2");
    for host in hosts {
        let deployed = Instant::now();
        replace_file(&host.app, &v2);
        wait_build(lb, host.i, "v2");
        wait_health(lb, host.i, |status, _| status == 200);
        rec.note(format!(
            "{} serves v2 {} after its .so was replaced",
            host.name,
            secs(deployed.elapsed())
        ));
        thread::sleep(Duration::from_secs(1));
    }
    rec.event("rolling deploy of a new .so, host by host", start);
}

/// 2. A graceful stop and start of one host, drained first: the drain file
///    makes its health check answer 503, HAProxy (and mod_proxy_hcheck)
///    take it out, then Apache stops gracefully and starts again.
fn drained_graceful_stop(
    lb: &NsThread,
    haproxy: &Haproxy,
    host: &mut Host,
    rec: &mut Record,
) -> Window {
    let start = Instant::now();
    let name = host.name.clone();
    let (downs, ups) = (
        haproxy.transitions(&name, "DOWN").len(),
        haproxy.transitions(&name, "UP").len(),
    );
    let drain = host.root().join("rustgi-drain");
    fs::write(&drain, "").unwrap();
    let (status, json) = health(lb, host.i).expect("the host answers");
    assert_eq!((status, json["status"].as_str()), (503, Some("draining")));
    let (line, out_at) = haproxy.wait_transition(&name, "DOWN", downs);
    assert!(line.contains("Layer7 wrong status, code: 503"), "{line}");
    rec.note(format!(
        "{name} drained: HAProxy took it out {} after the drain file appeared",
        secs(out_at - start)
    ));
    poll_until(STEP, Duration::from_millis(200), || {
        (!balancer_sends_to(lb, host.i)).then_some(())
    })
    .expect("mod_proxy_balancer stops sending to a draining host");
    send_signal(host.apache_pid(), libc::SIGWINCH);
    poll_until(STEP, Duration::from_millis(20), || {
        (!host.is_running()).then_some(())
    })
    .expect("Apache stops gracefully");
    let stopped_at = Instant::now();
    assert!(drain.exists());
    thread::sleep(Duration::from_secs(1));
    let started_at = Instant::now();
    host.start();
    // A start ends the drain.
    assert!(!drain.exists(), "Apache's start removes the drain file");
    wait_health(lb, host.i, |status, _| status == 200);
    let (line, in_at) = haproxy.wait_transition(&name, "UP", ups);
    assert!(line.contains("Layer7 check passed"), "{line}");
    rec.note(format!(
        "{name} stopped {} after it was taken out, back in rotation {} after its start",
        secs(stopped_at - out_at),
        secs(in_at - started_at)
    ));
    poll_until(STEP, Duration::from_millis(200), || {
        balancer_sends_to(lb, host.i).then_some(())
    })
    .expect("mod_proxy_balancer sends to the host again");
    rec.event("graceful stop and start of one host (drained first)", start);
    (out_at, in_at)
}

/// What the kill of a host left to check.
struct Kill {
    killed_at: Instant,
    kill_done: Instant,
    /// The requests sent just before, that the host was working on:
    /// (method, id).
    at_work: Vec<(String, String)>,
    /// Those requests and the others sent with them.
    probes: Vec<JoinHandle<Sample>>,
}

/// The requests the host reports at work on (`cluster: METHOD ID at work`)
/// among those sent before the kill.
fn probes_at_work(host: &Host) -> Vec<(String, String)> {
    host.error_log()
        .lines()
        .filter_map(|l| {
            let rest = &l[l.find("cluster: ")? + 9..];
            let mut words = rest.split_whitespace();
            let (method, id) = (words.next()?, words.next()?);
            (id.starts_with("kill") && rest.ends_with("at work"))
                .then(|| (method.to_owned(), id.to_owned()))
        })
        .collect()
}

/// 3. kill -9 of a host's whole Apache (parent, children, daemons: every
///    process in its namespace) while it works on long GETs and POSTs;
///    started again once HAProxy has taken it out.
fn kill_whole_apache(
    lb: &NsThread,
    haproxy: &Haproxy,
    lab: &Lab,
    host: &mut Host,
    rec: &mut Record,
) -> Kill {
    let start = Instant::now();
    let name = host.name.clone();
    let (downs, ups) = (
        haproxy.transitions(&name, "DOWN").len(),
        haproxy.transitions(&name, "UP").len(),
    );
    // Requests that work for a while, until the host works on GETs and
    // POSTs among them: they are in flight when it dies.
    let mut probes = Vec::new();
    let mut at_work = Vec::new();
    for batch in 0..5 {
        for k in 0..8 {
            let (ns, post) = (lab.lb(), k % 2 == 1);
            probes.push(thread::spawn(move || {
                enter_netns(&ns).expect("a client enters the balancer's namespace");
                let target = if post {
                    format!("/app/orders?ms={PROBE_MS}&note=1")
                } else {
                    format!("/app/slow?ms={PROBE_MS}&note=1")
                };
                send_sample(format!("kill{batch}-{k}"), post, &target)
            }));
        }
        thread::sleep(Duration::from_millis(400));
        at_work = probes_at_work(host);
        if at_work.iter().any(|(m, _)| m == "GET") && at_work.iter().any(|(m, _)| m == "POST") {
            break;
        }
    }
    let ns = lab.host(host.i);
    let killed_at = Instant::now();
    let killed = kill_all_in(&ns);
    let kill_done = Instant::now();
    assert!(
        killed.len() >= 4,
        "Apache, a child and two daemons: {killed:?}"
    );
    poll_until(STEP, Duration::from_millis(20), || {
        pids_in(&ns).is_empty().then_some(())
    })
    .expect("every process of the host is gone");
    if let Some(mut server) = host.server.take() {
        let _ = server.stop();
    }
    let (line, out_at) = haproxy.wait_transition(&name, "DOWN", downs);
    rec.note(format!(
        "{name} killed ({} processes): HAProxy took it out {} later ({})",
        killed.len(),
        secs(out_at - killed_at),
        line.split("reason: ")
            .nth(1)
            .and_then(|r| r.split(',').next())
            .unwrap_or("?")
    ));
    thread::sleep(Duration::from_secs(1));
    let restarted_at = Instant::now();
    host.start();
    wait_health(lb, host.i, |status, _| status == 200);
    let (_, in_at) = haproxy.wait_transition(&name, "UP", ups);
    rec.note(format!(
        "{name} started again: back in rotation {} after its start",
        secs(in_at - restarted_at)
    ));
    rec.event("kill -9 of one host's whole Apache", start);
    Kill {
        killed_at,
        kill_done,
        at_work,
        probes,
    }
}

/// 4. The daemon group crashes on one host only: its processes die, and
///    every new one crashes at start (SIGABRT in the app's init) until the
///    cause is gone.
fn crash_group(lb: &NsThread, haproxy: &Haproxy, host: &mut Host, rec: &mut Record) -> Window {
    let start = Instant::now();
    let name = host.name.clone();
    let (downs, ups) = (
        haproxy.transitions(&name, "DOWN").len(),
        haproxy.transitions(&name, "UP").len(),
    );
    let crash = host.root().join("crash");
    fs::write(&crash, "").unwrap();
    let daemons = daemon_children(host.apache_pid());
    assert_eq!(daemons.len(), 2, "the group's processes: {daemons:?}");
    let crashed_at = Instant::now();
    for &pid in &daemons {
        send_signal(pid, libc::SIGKILL);
    }
    let down = wait_health(lb, host.i, |status, json| {
        status == 503
            && json["reason"]
                .as_str()
                .is_some_and(|r| r.contains("SIGABRT"))
    });
    assert_eq!(down["status"], "unavailable");
    assert_eq!(down["group"], GROUP, "{down}");
    assert_eq!(down["groups"][GROUP], down["reason"], "{down}");
    rec.note(format!(
        "{name}'s health check while its group crashes: 503, reason `{}`",
        down["reason"].as_str().unwrap_or("")
    ));
    let (line, out_at) = haproxy.wait_transition(&name, "DOWN", downs);
    assert!(line.contains("Layer7 wrong status, code: 503"), "{line}");
    rec.note(format!(
        "{name}'s group crashing: HAProxy took the host out {} after the crash",
        secs(out_at - crashed_at)
    ));
    fs::remove_file(&crash).unwrap();
    let fixed_at = Instant::now();
    wait_health(lb, host.i, |status, _| status == 200);
    let serving_at = Instant::now();
    let (_, in_at) = haproxy.wait_transition(&name, "UP", ups);
    rec.note(format!(
        "{name}'s group serves again {} after the cause was removed (the restart delay of a \
         crashing group); back in rotation {} after that",
        secs(serving_at - fixed_at),
        secs(in_at - serving_at)
    ));
    rec.event("a daemon group crashing on one host only", start);
    (out_at, in_at)
}

fn web(i: usize) -> String {
    format!("web{i}")
}

/// A request in words, with what HAProxy logged of it.
fn describe(s: &Sample, logged: &BTreeMap<String, Logged>) -> String {
    format!(
        "{} {} {:?} after {} ms; HAProxy: {:?}",
        s.id,
        s.method,
        s.failure,
        (s.end - s.start).as_millis(),
        logged.get(&s.id)
    )
}

/// The assertions on the whole run; what the kill cost, in words.
fn check_run(
    samples: &[Sample],
    logged: &BTreeMap<String, Logged>,
    rec: &Record,
    kill: &Kill,
    out_of_rotation: &[(usize, Window)],
) -> String {
    // Each request HAProxy logged on the host the app says answered it.
    for s in samples.iter().filter(|s| s.ok()) {
        let log = logged
            .get(&s.id)
            .unwrap_or_else(|| panic!("HAProxy did not log {}", s.id));
        let host = s.host.as_deref().unwrap_or("?");
        assert_eq!(
            host_ip(log.server.trim_start_matches("web").parse().unwrap_or(0)).to_string(),
            host,
            "{}: HAProxy's server and the app's host agree",
            s.id
        );
    }
    let failures: Vec<&Sample> = samples.iter().filter(|s| !s.ok()).collect();
    let failed_in = |phase: Option<usize>| -> Vec<&Sample> {
        failures
            .iter()
            .copied()
            .filter(|s| rec.phase_of(s) == phase)
            .collect()
    };
    let listed = |list: &[&Sample]| {
        list.iter()
            .map(|s| describe(s, logged))
            .collect::<Vec<_>>()
            .join("\n")
    };
    for (phase, what) in [
        (None, "between events"),
        (Some(DEPLOY), "through the rolling deploy"),
        (Some(GRACEFUL), "through the graceful stop"),
    ] {
        let failed = failed_in(phase);
        assert!(
            failed.is_empty(),
            "requests failed {what}:\n{}",
            listed(&failed)
        );
    }
    // The kill: only POSTs in flight on the host killed; never a GET.
    for s in failed_in(Some(KILL)) {
        assert!(
            s.method == "POST"
                && s.start <= kill.kill_done
                && s.end >= kill.killed_at
                && logged.get(&s.id).is_some_and(|l| l.server == web(3)),
            "a failure the kill does not explain: {}",
            describe(s, logged)
        );
    }
    // What web3 was working on when it died: its POSTs failed, its GETs
    // HAProxy sent again to another host.
    let gets = kill.at_work.iter().filter(|(m, _)| m == "GET").count();
    assert!(
        gets > 0 && gets < kill.at_work.len(),
        "GETs and POSTs in flight on web3 at the kill: {:?}",
        kill.at_work
    );
    for (method, id) in &kill.at_work {
        let s = samples
            .iter()
            .find(|s| s.id == *id)
            .unwrap_or_else(|| panic!("{id} was sent"));
        let log = logged.get(id);
        if method == "POST" {
            assert!(
                !s.ok() && log.is_some_and(|l| l.server == web(3)),
                "a POST in flight on web3 when it was killed: {}",
                describe(s, logged)
            );
        } else {
            assert!(
                s.ok() && log.is_some_and(|l| l.retries > 0 && l.server != web(3)),
                "a GET in flight on web3 when it was killed is sent again: {}",
                describe(s, logged)
            );
        }
    }
    let kill_note = format!(
        "in flight on web3 when it was killed: {gets} GETs (HAProxy sent each again to another \
         host, where it was served) and {} POSTs (each failed: HAProxy answered {:?})",
        kill.at_work.len() - gets,
        kill.at_work
            .iter()
            .filter(|(m, _)| m == "POST")
            .filter_map(|(_, id)| logged.get(id))
            .map(|l| format!("{} {}", l.status.unwrap_or(0), l.termination))
            .collect::<Vec<_>>()
    );
    // The crash: what failed, failed on web1.
    for s in failed_in(Some(CRASH)) {
        assert!(
            logged.get(&s.id).is_some_and(|l| l.server == web(1)),
            "a failure the crash does not explain: {}",
            describe(s, logged)
        );
    }
    // Out of rotation means no new request: none that started after
    // HAProxy took the host out and ended before it put it back (HAProxy's
    // log line is seen within a few milliseconds of the change: the margins
    // keep the window inside the real one).
    let margin = Duration::from_millis(200);
    for &(host, (out_at, in_at)) in out_of_rotation {
        let leaked: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.start > out_at + margin && s.end + margin < in_at)
            .filter(|s| logged.get(&s.id).is_some_and(|l| l.server == web(host)))
            .collect();
        assert!(
            leaked.is_empty(),
            "web{host} got requests while out of rotation:\n{}",
            listed(&leaked)
        );
        let back = samples
            .iter()
            .filter(|s| s.start > in_at && s.host.as_deref() == Some(&host_ip(host).to_string()))
            .count();
        assert!(back > 0, "web{host} serves again once back in rotation");
    }
    // The deploy's build is what serves at the end.
    let last_builds: Vec<&str> = samples
        .iter()
        .rev()
        .filter(|s| s.ok())
        .take(30)
        .filter_map(|s| s.build.as_deref())
        .collect();
    assert!(last_builds.iter().all(|b| *b == "v2"), "{last_builds:?}");
    assert!(
        samples.len() > 1000,
        "a steady load: {} requests",
        samples.len()
    );
    kill_note
}

/// The figures of the run, as a Markdown table with notes.
fn figures(
    samples: &[Sample],
    logged: &BTreeMap<String, Logged>,
    rec: &Record,
    run_time: Duration,
) -> String {
    let mut table = String::from(
        "| event | time | requests | failed | sent again by HAProxy | slowest |\n\
         |---|---|---|---|---|---|\n",
    );
    let mut rows: Vec<(&str, Vec<&Sample>, Duration)> = rec
        .events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            (
                e.name,
                samples
                    .iter()
                    .filter(|s| rec.phase_of(s) == Some(i))
                    .collect(),
                e.end - e.start,
            )
        })
        .collect();
    rows.push((
        "steady load between events",
        samples
            .iter()
            .filter(|s| rec.phase_of(s).is_none())
            .collect(),
        run_time.saturating_sub(rec.events.iter().map(|e| e.end - e.start).sum()),
    ));
    for (name, group, time) in &rows {
        let failed: Vec<&&Sample> = group.iter().filter(|s| !s.ok()).collect();
        let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
        for s in &failed {
            let status = s
                .failure
                .as_ref()
                .and_then(|f| f.0)
                .map_or_else(|| "no answer".to_owned(), |c| c.to_string());
            *kinds.entry(format!("{} {status}", s.method)).or_insert(0) += 1;
        }
        let failed_text = if failed.is_empty() {
            "0".to_owned()
        } else {
            let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} × {k}")).collect();
            format!("{} ({})", failed.len(), kinds.join(", "))
        };
        let again: Vec<&&Sample> = group
            .iter()
            .filter(|s| logged.get(&s.id).is_some_and(|l| l.retries > 0))
            .collect();
        let again_ok = again.iter().filter(|s| s.ok()).count();
        let gets = again.iter().filter(|s| s.method == "GET").count();
        let slowest = group
            .iter()
            .map(|s| s.end - s.start)
            .max()
            .unwrap_or_default();
        let _ = writeln!(
            table,
            "| {name} | {} | {} | {failed_text} | {} ({gets} GET, {} POST; {again_ok} then served) | {} ms |",
            secs(*time),
            group.len(),
            again.len(),
            again.len() - gets,
            slowest.as_millis()
        );
    }
    let notes: Vec<String> = rec.notes.iter().map(|n| format!("- {n}")).collect();
    format!("{table}\n{}", notes.join("\n"))
}

#[test]
fn three_hosts_behind_haproxy() {
    if let Some(why) = unmet_needs() {
        eprintln!("SKIPPED three_hosts_behind_haproxy: {why}");
        return;
    }
    if Command::new("haproxy").arg("-v").output().is_err() {
        // CI installs it (scripts/install-deps); elsewhere it may be missing.
        assert!(
            std::env::var_os("CI").is_none(),
            "haproxy is missing in CI: scripts/install-deps installs it"
        );
        eprintln!(
            "SKIPPED three_hosts_behind_haproxy: haproxy is missing (apt-get install haproxy)"
        );
        return;
    }
    require_daemon();
    let lab = match Lab::create() {
        Ok(lab) => lab,
        Err(why) => {
            eprintln!("SKIPPED three_hosts_behind_haproxy: cannot make network namespaces: {why}");
            return;
        }
    };
    // Dropped in the reverse order: the clients stop, the balancers and
    // the hosts stop, the namespace threads end, the namespaces go.
    let run_start = Instant::now();
    let work = common::temp_dir("rustgi-multihost-");
    let lb = NsThread::enter(&lab.lb()).expect("enter the balancer's namespace");
    let mut hosts: Vec<Host> = (1..=HOSTS)
        .map(|i| Host::new(i, &lab.host(i)).expect("enter a host's namespace"))
        .collect();
    for host in &mut hosts {
        host.start();
    }
    // Each host healthy before the balancer starts.
    for i in 1..=HOSTS {
        let ok = wait_health(&lb, i, |status, _| status == 200);
        assert_eq!(
            ok,
            serde_json::json!({"status": "ok", "groups": {GROUP: "ok"}})
        );
    }
    let haproxy = Haproxy::start(&lb, work.path());
    poll_until(STEP, Duration::from_millis(50), || {
        lb.run(|| http::send(haproxy_addr(), &Request::get("/app/")))
            .ok()
            .filter(|r| r.status() == 200)
    })
    .unwrap_or_else(|| panic!("HAProxy does not answer:\n{}", haproxy.text()));
    let made_on = check_sessions(&lb);
    let balancer = start_balancer(&lb, &work.path().join("balancer"));

    // Steady load from here on, through each event in turn.
    let load = Load::start(&lab.lb(), run_start + RUN_LIMIT);
    let mut rec = Record::default();
    thread::sleep(Duration::from_secs(3));
    assert!(load.count() > 20, "the load runs");
    rolling_deploy(&lb, &hosts, &mut rec);
    thread::sleep(Duration::from_secs(2));
    let web2_out = drained_graceful_stop(&lb, &haproxy, &mut hosts[1], &mut rec);
    thread::sleep(Duration::from_secs(2));
    let kill = kill_whole_apache(&lb, &haproxy, &lab, &mut hosts[2], &mut rec);
    thread::sleep(Duration::from_secs(2));
    let web1_out = crash_group(&lb, &haproxy, &mut hosts[0], &mut rec);
    thread::sleep(Duration::from_secs(2));

    let mut samples = load.stop();
    let Kill {
        killed_at,
        kill_done,
        at_work,
        probes,
    } = kill;
    for probe in probes {
        samples.push(probe.join().expect("a request sent before the kill"));
    }
    samples.sort_by_key(|s| s.start);
    let kill = Kill {
        killed_at,
        kill_done,
        at_work,
        probes: Vec::new(),
    };
    let run_time = run_start.elapsed();
    drop(balancer);
    // HAProxy has logged every request by now.
    thread::sleep(Duration::from_millis(300));
    let logged = parse_haproxy_log(&haproxy.syslog.text());
    if let Some(dir) = std::env::var_os("RUSTGI_MULTIHOST_LOGS") {
        // Kept for a look after the run.
        let dir = PathBuf::from(dir);
        let _ = fs::create_dir_all(&dir);
        let _ = fs::write(dir.join("haproxy.log"), haproxy.text());
        for host in &hosts {
            let _ = fs::write(
                dir.join(format!("{}.error_log", host.name)),
                host.error_log(),
            );
        }
    }

    let kill_note = check_run(
        &samples,
        &logged,
        &rec,
        &kill,
        &[(2, web2_out), (1, web1_out)],
    );
    rec.note(kill_note);
    let gets = samples.iter().filter(|s| s.method == "GET").count();
    let version = Command::new("haproxy")
        .arg("-v")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    println!(
        "multihost: {HOSTS} hosts behind {}, {} requests in {} ({gets} GET, {} POST) from {} \
         clients; a session made on {made_on} was honoured on every host\n\n{}",
        version.split(" - ").next().unwrap_or("HAProxy").trim(),
        samples.len(),
        secs(run_time),
        samples.len() - gets,
        FAST_CLIENTS + SLOW_CLIENTS,
        figures(&samples, &logged, &rec, run_time)
    );
}
