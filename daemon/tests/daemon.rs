//! The real `rustgi-daemon` binary, started with a listening socket made
//! here and driven through the protocol as an Apache child would drive it.
//!
//! The apps come from the target directory: build them first with
//! `cargo build --release --workspace` (or `-p echo -p faults`).

use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rustgi_contract::pairs::Pairs;
use rustgi_contract::protocol::{
    self, Frame, FrameReader, Kind, Outcome, Reject, encode_frame, encode_request,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const DAEMON: &str = env!("CARGO_BIN_EXE_rustgi-daemon");
/// The fd number the daemon gets its socket on.
const LISTEN_FD: i32 = 3;

/// `target/<profile>`, from this test binary's path.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    if deps.file_name().is_some_and(|n| n == "deps") {
        deps.parent().unwrap().to_path_buf()
    } else {
        deps.to_path_buf()
    }
}

fn app(name: &str) -> PathBuf {
    let path = target_dir().join(format!("lib{name}.so"));
    assert!(
        path.is_file(),
        "{} is missing: build the test apps first with `cargo build --release --workspace` \
         (or `cargo build --release -p echo -p faults`)",
        path.display()
    );
    path
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A daemon process with its socket, configuration and collected log.
struct Daemon {
    child: Child,
    socket: PathBuf,
    log: Arc<Mutex<String>>,
    status: Option<ExitStatus>,
    /// The threads collecting stdout and stderr; they end at the process's
    /// exit.
    log_threads: Vec<std::thread::JoinHandle<()>>,
    _listener: UnixListener,
    dir: tempfile::TempDir,
}

/// The configuration the tests start from: small and quick.
fn base_config() -> Value {
    json!({
        "group": "test",
        "threads": 4,
        "graceful_timeout": 5,
        "shutdown_timeout": 2,
        "startup_timeout": 15,
        "queue_timeout": 45,
        "socket_timeout": 10,
        "request_timeout": 0,
        "peer_uids": [],
        "log_level": 7,
        "apps": [
            {"file": app("echo"), "init_config": [["greeting", "hi"]]},
            {"file": app("faults"), "init_config": []},
        ],
    })
}

impl Daemon {
    /// Starts a daemon and waits until it is ready.
    fn start(config: Value) -> Daemon {
        let daemon = Daemon::spawn(config);
        assert!(
            daemon.wait_log("ready,", Duration::from_secs(15)),
            "the daemon did not get ready:\n{}",
            daemon.log()
        );
        daemon
    }

    /// Starts a daemon without waiting.
    fn spawn(config: Value) -> Daemon {
        Daemon::spawn_with(config, false)
    }

    /// Starts a daemon without waiting; with `usr1_pending`, it starts as
    /// the module starts it (SIGUSR1 blocked) with a SIGUSR1 already sent.
    fn spawn_with(config: Value, usr1_pending: bool) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("config.json");
        std::fs::write(&config_path, config.to_string()).unwrap();
        let socket = dir.path().join("daemon.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        let fd = listener.as_raw_fd();
        let mut command = Command::new(DAEMON);
        command
            .arg("--config")
            .arg(&config_path)
            .arg("--listen-fd")
            .arg(LISTEN_FD.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: the closure only makes async-signal-safe calls (dup2,
        // fcntl on descriptors the child inherited; sigprocmask, raise).
        unsafe {
            command.pre_exec(move || {
                if fd == LISTEN_FD {
                    if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                        return Err(io::Error::last_os_error());
                    }
                } else if libc::dup2(fd, LISTEN_FD) == -1 {
                    return Err(io::Error::last_os_error());
                }
                if usr1_pending {
                    let mut set: libc::sigset_t = std::mem::zeroed();
                    libc::sigemptyset(&mut set);
                    libc::sigaddset(&mut set, libc::SIGUSR1);
                    libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
                    libc::raise(libc::SIGUSR1);
                }
                Ok(())
            });
        }
        let mut child = command.spawn().expect("start rustgi-daemon");
        let log = Arc::new(Mutex::new(String::new()));
        let mut log_threads = Vec::new();
        for pipe in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let log = Arc::clone(&log);
            log_threads.push(std::thread::spawn(move || {
                let mut pipe = pipe;
                let mut buf = [0; 4096];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    log.lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }));
        }
        Daemon {
            child,
            socket,
            log,
            status: None,
            log_threads,
            _listener: listener,
            dir,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    fn wait_log(&self, needle: &str, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.log().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.log().contains(needle)
    }

    /// Waits for the process to exit.
    fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        while self.status.is_none() && Instant::now() < deadline {
            self.status = self.child.try_wait().unwrap();
            std::thread::sleep(Duration::from_millis(20));
        }
        if self.status.is_some() {
            // The pipes are closed: the log threads take the last lines.
            for thread in self.log_threads.drain(..) {
                let _ = thread.join();
            }
        }
        self.status
    }

    fn signal(&self, signal: i32) {
        // SAFETY: kill has no memory preconditions; the pid is our child's,
        // not yet reaped (so not reused).
        assert_eq!(unsafe { libc::kill(self.pid() as i32, signal) }, 0);
    }

    fn connect(&self) -> Client {
        Client::connect(&self.socket)
    }

    /// One request, as an Apache child would send it.
    fn request(&self, app_name: &str, path: &str, query: &str, body: &[u8]) -> Exchange {
        let mut client = self.connect();
        client.send_request(&RequestSpec::new(&app(app_name), path, query, body.len()));
        client.exchange(body)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        // RUSTGI_SHOW_LOG=1 shows every daemon's log.
        if std::thread::panicking() || std::env::var_os("RUSTGI_SHOW_LOG").is_some() {
            eprintln!("--- daemon log ---\n{}--- end ---", self.log());
        }
    }
}

struct RequestSpec {
    queue_start_us: u64,
    app_file: Vec<u8>,
    init_config: Pairs,
    environ: Pairs,
    config: Pairs,
    has_body: bool,
}

impl RequestSpec {
    fn new(app: &Path, path: &str, query: &str, body_len: usize) -> RequestSpec {
        let uri = if query.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{query}")
        };
        let len = body_len.to_string();
        let mut environ: Pairs = [
            ("REQUEST_METHOD", if body_len > 0 { "POST" } else { "GET" }),
            ("SCRIPT_NAME", ""),
            ("PATH_INFO", path),
            ("QUERY_STRING", query),
            ("REQUEST_URI", &uri),
            ("SERVER_NAME", "localhost"),
            ("SERVER_PORT", "80"),
            ("SERVER_PROTOCOL", "HTTP/1.1"),
            ("HTTP_X_TEST", "yes"),
        ]
        .into_iter()
        .collect();
        if body_len > 0 {
            environ.push(b"CONTENT_LENGTH", len.as_bytes());
        }
        let init_config = if app.ends_with("libecho.so") {
            [("greeting", "hi")].into_iter().collect()
        } else {
            Pairs::default()
        };
        RequestSpec {
            queue_start_us: now_us(),
            app_file: app.as_os_str().as_encoded_bytes().to_vec(),
            init_config,
            environ,
            config: [("per_request", "1")].into_iter().collect(),
            has_body: body_len > 0,
        }
    }
}

/// What the daemon answered.
#[derive(Debug, Default)]
struct Exchange {
    accepted: Option<u32>,
    reject: Option<Reject>,
    status: Option<u16>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    flushes: usize,
    /// READs answered.
    reads: usize,
    /// READ_NOWs answered; this child answers the first with BODY_LATER (as
    /// if nothing had come from the client yet), the others like READs.
    reads_now: usize,
    logs: Vec<(u8, String)>,
    end: Option<Outcome>,
    /// The connection ended without END or REJECT.
    eof: bool,
    /// It ended by a reset (the daemon closed it with data unread).
    reset: bool,
}

impl Exchange {
    fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body_text()))
    }

    fn assert_ok(&self) {
        assert_eq!(self.end, Some(Outcome::Ok), "{self:?}");
        assert!(self.accepted.is_some());
    }
}

struct Client {
    reader: FrameReader<UnixStream>,
}

impl Client {
    fn connect(socket: &Path) -> Client {
        let stream = UnixStream::connect(socket).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        Client {
            reader: FrameReader::new(stream),
        }
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.reader.get_ref().write_all(bytes)
    }

    fn send_request(&mut self, spec: &RequestSpec) {
        let out = spec.encode(true);
        self.write(&out).unwrap();
    }

    /// Reads the daemon's answer, sending `body` in answer to READs.
    fn exchange(&mut self, body: &[u8]) -> Exchange {
        let mut ex = Exchange::default();
        if let Err(e) = self.reader.read_preface() {
            assert!(is_eof(&e), "{e}");
            ex.eof = true;
            ex.reset = e.kind() == io::ErrorKind::ConnectionReset;
            return ex;
        }
        self.frames(body, ex)
    }

    /// Reads the preface and ACCEPTED.
    fn expect_accepted(&mut self) -> Exchange {
        self.reader.read_preface().unwrap();
        let (kind, payload) = self.reader.read_frame().unwrap();
        assert_eq!(kind, Kind::Accepted);
        Exchange {
            accepted: Some(protocol::decode_accepted(payload).unwrap()),
            ..Exchange::default()
        }
    }

    /// Reads frames until END, REJECT or the end of the connection.
    fn frames(&mut self, body: &[u8], mut ex: Exchange) -> Exchange {
        let mut sent = 0;
        loop {
            let (kind, payload) = match self.reader.read_frame() {
                Ok(frame) => frame,
                Err(e) if is_eof(&e) => {
                    ex.eof = true;
                    ex.reset = e.kind() == io::ErrorKind::ConnectionReset;
                    return ex;
                }
                Err(e) => panic!("bad frame from the daemon: {e}"),
            };
            let frame = Frame::decode(kind, payload).expect("a valid frame");
            assert!(
                ex.accepted.is_some() || matches!(frame, Frame::Accepted(_) | Frame::Reject(_)),
                "{kind:?} before ACCEPTED"
            );
            match frame {
                Frame::Accepted(pid) => ex.accepted = Some(pid),
                Frame::Reject(r) => {
                    ex.reject = Some(r);
                    return ex;
                }
                Frame::ReadNow(_) if ex.reads_now == 0 => {
                    ex.reads_now += 1;
                    let mut out = Vec::new();
                    encode_frame(&mut out, Kind::BodyLater, &[]).unwrap();
                    self.write(&out).unwrap();
                }
                Frame::Read(max) | Frame::ReadNow(max) => {
                    if kind == Kind::Read {
                        ex.reads += 1;
                    } else {
                        ex.reads_now += 1;
                    }
                    let mut out = Vec::new();
                    if sent < body.len() {
                        let n = (body.len() - sent).min(max as usize);
                        encode_frame(&mut out, Kind::Body, &body[sent..sent + n]).unwrap();
                        sent += n;
                    } else {
                        encode_frame(&mut out, Kind::BodyEnd, &[]).unwrap();
                    }
                    self.write(&out).unwrap();
                }
                Frame::Head(head) => {
                    ex.status = Some(head.status);
                    ex.headers = head
                        .headers
                        .iter()
                        .map(|(n, v)| {
                            (
                                String::from_utf8_lossy(n).into_owned(),
                                String::from_utf8_lossy(v).into_owned(),
                            )
                        })
                        .collect();
                }
                Frame::Data(data) => {
                    assert!(ex.status.is_some(), "DATA before HEAD");
                    ex.body.extend_from_slice(data);
                }
                Frame::Flush => ex.flushes += 1,
                Frame::Log(line) => ex.logs.push((
                    line.level,
                    String::from_utf8_lossy(&line.message).into_owned(),
                )),
                Frame::End(outcome) => {
                    ex.end = Some(outcome);
                    return ex;
                }
                other => panic!("the daemon sent a child's frame: {other:?}"),
            }
        }
    }
}

fn is_eof(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
    )
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Deterministic bytes that are not all alike.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[test]
fn echo_round_trip_with_a_body_sent_on_read() {
    let d = Daemon::start(base_config());
    let ex = d.request("echo", "/x", "a=1", b"hello");
    ex.assert_ok();
    assert_eq!(ex.accepted, Some(d.pid()));
    assert_eq!(ex.status, Some(200));
    assert!(
        ex.headers
            .iter()
            .any(|(n, v)| n == "content-type" && v == "application/json"),
        "{:?}",
        ex.headers
    );
    // READ for "hello", READ_NOW answered with BODY_LATER, READ for the end.
    assert_eq!((ex.reads, ex.reads_now), (2, 1), "{ex:?}");
    let v = ex.json();
    assert_eq!(v["method"], "POST");
    assert_eq!(v["path_info"], "/x");
    assert_eq!(v["query_string"], "a=1");
    assert_eq!(v["headers"]["x-test"], "yes");
    assert_eq!(v["body_len"], 5);
    assert_eq!(v["body_sha256"], sha256_hex(b"hello"));
    assert_eq!(v["init_config"]["greeting"], "hi");
    assert_eq!(v["config"]["per_request"], "1");
    assert_eq!(v["pid"], d.pid());

    // Without a body no READ is sent; the same process serves again.
    let ex = d.request("echo", "/", "", b"");
    ex.assert_ok();
    assert_eq!((ex.reads, ex.reads_now), (0, 0));
    assert_eq!(ex.json()["body_len"], 0);
}

#[test]
fn ten_mib_upload_through_reads() {
    let d = Daemon::start(base_config());
    let body = pattern(10 << 20);
    let ex = d.request("faults", "/upload", "", &body);
    ex.assert_ok();
    let v = ex.json();
    assert_eq!(v["len"], body.len());
    assert_eq!(v["sha256"], sha256_hex(&body));
    // The daemon asks for 256 KiB at a time whatever the app reads at a time
    // (64 KiB here), for the next piece as soon as the app has one: READ for
    // the first piece; READ_NOW, answered BODY_LATER, then READ for the
    // second; READ_NOW for the 38 others and the end.
    assert_eq!((ex.reads, ex.reads_now), (2, 40), "{ex:?}");
}

#[test]
fn responding_before_reading_a_16_mib_body_does_not_deadlock() {
    let d = Daemon::start(base_config());
    let body = pattern(16 << 20);
    let ex = d.request("faults", "/respond-before-read", "", &body);
    ex.assert_ok();
    assert_eq!(ex.body.len(), 1 << 20);
    assert!(ex.body.iter().all(|&b| b == b'r'));
    assert!(ex.flushes >= 1);
    assert!(
        ex.logs
            .iter()
            .any(|(_, m)| m.contains(&format!("read a request body of {} bytes", 16 << 20))),
        "{:?}",
        ex.logs
    );
}

#[test]
fn large_streamed_responses_arrive_whole() {
    let d = Daemon::start(base_config());
    let ex = d.request("faults", "/stream", "mb=8", b"");
    ex.assert_ok();
    assert_eq!(ex.body.len(), 8 << 20);
}

#[test]
fn queue_timeout_rejects_with_503() {
    let mut config = base_config();
    config["queue_timeout"] = json!(1);
    let d = Daemon::start(config);
    let mut client = d.connect();
    let mut spec = RequestSpec::new(&app("faults"), "/", "", 0);
    spec.queue_start_us = now_us() - 5_000_000;
    client.send_request(&spec);
    let ex = client.exchange(b"");
    let reject = ex.reject.expect("a REJECT");
    assert_eq!(reject.status, 503);
    assert_eq!(reject.retry_after_seconds, 1);
    assert!(String::from_utf8_lossy(&reject.reason).contains("queue-timeout"));
    assert_eq!(ex.accepted, None);
    // A fresh request is served.
    d.request("faults", "/", "", b"").assert_ok();
}

#[test]
fn an_app_the_group_does_not_serve_is_rejected_with_500() {
    let d = Daemon::start(base_config());
    let mut client = d.connect();
    client.send_request(&RequestSpec::new(
        Path::new("/nonexistent/libx.so"),
        "/",
        "",
        0,
    ));
    let ex = client.exchange(b"");
    let reject = ex.reject.expect("a REJECT");
    assert_eq!(reject.status, 500);
    assert!(d.wait_log("/nonexistent/libx.so", Duration::from_secs(5)));
    d.request("faults", "/", "", b"").assert_ok();
}

#[test]
fn an_allowed_app_with_another_init_config_is_loaded_lazily() {
    let d = Daemon::start(base_config());
    let mut client = d.connect();
    let mut spec = RequestSpec::new(&app("echo"), "/", "", 0);
    spec.init_config = [("greeting", "other")].into_iter().collect();
    client.send_request(&spec);
    let ex = client.exchange(b"");
    ex.assert_ok();
    assert_eq!(ex.json()["init_config"]["greeting"], "other");
    // One that fails its init is a 500: a REJECT (ACCEPTED, which goes with
    // the first frame, never went out).
    let mut client = d.connect();
    spec.init_config = [("fail_init", "no thanks")].into_iter().collect();
    client.send_request(&spec);
    let ex = client.exchange(b"");
    assert!(ex.accepted.is_none(), "{ex:?}");
    let reject = ex.reject.expect("a REJECT");
    assert_eq!(reject.status, 500);
    assert!(String::from_utf8_lossy(&reject.reason).contains("no thanks"));
}

#[test]
fn maximum_requests_recycles_the_process() {
    let mut config = base_config();
    config["maximum_requests"] = json!(3);
    let mut d = Daemon::start(config);
    for _ in 0..3 {
        d.request("faults", "/", "", b"").assert_ok();
    }
    let status = d
        .wait_exit(Duration::from_secs(10))
        .expect("the process exits");
    assert_eq!(status.code(), Some(0), "{}", d.log());
    let log = d.log();
    assert!(
        log.contains("[rustgi:notice]")
            && log.contains("group test: recycling: 3 requests served (maximum-requests)"),
        "{log}"
    );
    assert!(log.contains("exiting: 3 requests served"), "{log}");
}

/// A request that kills the process: the client sees the connection end
/// without any frame, and not reset (the request was read: it must not be
/// sent again).
fn killer(path: &str) -> (ExitStatus, Exchange) {
    let mut d = Daemon::start(base_config());
    let ex = d.request("faults", path, "", b"");
    assert!(ex.eof && ex.end.is_none(), "{ex:?}");
    assert!(!ex.reset, "{ex:?}");
    let status = d
        .wait_exit(Duration::from_secs(10))
        .expect("the process dies");
    (status, ex)
}

#[test]
fn exit_kills_the_process() {
    let (status, _) = killer("/exit");
    assert_eq!(status.code(), Some(3));
}

#[test]
fn abort_kills_the_process() {
    let (status, _) = killer("/abort");
    assert_eq!(status.signal(), Some(libc::SIGABRT));
}

#[test]
fn segfault_kills_the_process() {
    let (status, _) = killer("/segfault");
    assert_eq!(status.signal(), Some(libc::SIGSEGV));
}

#[test]
fn a_panic_is_a_500_and_the_process_lives_on() {
    let d = Daemon::start(base_config());
    let ex = d.request("faults", "/panic", "", b"");
    ex.assert_ok();
    assert_eq!(ex.status, Some(500));
    assert!(
        ex.logs
            .iter()
            .any(|(_, m)| m.contains("faults panicked on purpose")),
        "{:?}",
        ex.logs
    );
    d.request("faults", "/", "", b"").assert_ok();
}

#[test]
fn a_header_with_cr_lf_is_refused() {
    let d = Daemon::start(base_config());
    let ex = d.request("faults", "/bad-header", "", b"");
    assert_eq!(ex.end, Some(Outcome::Error), "{ex:?}");
    assert_eq!(ex.status, None, "no HEAD is sent for a refused response");
    assert!(
        ex.logs.iter().any(|(_, m)| m.contains("response refused")),
        "{:?}",
        ex.logs
    );
}

#[test]
fn request_timeout_recycles_and_exits() {
    let mut config = base_config();
    config["request_timeout"] = json!(1);
    config["graceful_timeout"] = json!(1);
    let mut d = Daemon::start(config);
    let start = Instant::now();
    let ex = d.request("faults", "/sleep", "ms=5000", b"");
    assert!(ex.eof && ex.end.is_none(), "{ex:?}");
    let status = d
        .wait_exit(Duration::from_secs(10))
        .expect("the process exits");
    assert!(
        start.elapsed() < Duration::from_millis(4900),
        "it did not wait for the sleep"
    );
    assert_eq!(status.code(), Some(0));
    let log = d.log();
    assert!(
        log.contains("request-timeout: the app has worked on request /sleep?ms=5000 for"),
        "{log}"
    );
    assert!(
        log.contains("recycling: a request ran longer than 1 s (request-timeout)"),
        "{log}"
    );
    assert!(log.contains("still running at the deadline"), "{log}");
}

#[test]
fn a_silent_app_is_accepted_while_it_runs() {
    let d = Daemon::start(base_config());
    let mut client = d.connect();
    let sent = Instant::now();
    client.send_request(&RequestSpec::new(&app("faults"), "/sleep", "ms=4000", 0));
    // ACCEPTED comes alone, from the monitor, long before the response.
    let ex = client.expect_accepted();
    let accepted_after = sent.elapsed();
    assert!(
        accepted_after < Duration::from_millis(3500),
        "ACCEPTED came only after {accepted_after:?}, with the response"
    );
    assert_eq!(ex.accepted, Some(d.pid()));
    let ex = client.frames(b"", ex);
    ex.assert_ok();
    assert_eq!(ex.body_text(), "slept 4000");
}

#[test]
fn sigusr1_lets_the_request_in_flight_finish() {
    let mut d = Daemon::start(base_config());
    let mut client = d.connect();
    client.send_request(&RequestSpec::new(&app("faults"), "/sleep", "ms=1500", 0));
    let ex = client.expect_accepted();
    let waiter = std::thread::spawn(move || client.frames(b"", ex));
    std::thread::sleep(Duration::from_millis(200));
    d.signal(libc::SIGUSR1);
    let ex = waiter.join().unwrap();
    ex.assert_ok();
    assert_eq!(ex.body_text(), "slept 1500");
    let status = d
        .wait_exit(Duration::from_secs(10))
        .expect("the process exits");
    assert_eq!(status.code(), Some(0));
    let log = d.log();
    assert!(
        log.contains("recycling: SIGUSR1 (graceful stop requested)"),
        "{log}"
    );
    assert!(log.contains("exiting: 1 requests served"), "{log}");
}

#[test]
fn a_sigusr1_sent_before_the_handler_is_set_recycles_the_process() {
    // A graceful restart just after the module forked a daemon: the signal
    // waits, blocked, for the daemon's handler instead of killing it.
    let mut d = Daemon::spawn_with(base_config(), true);
    let status = d
        .wait_exit(Duration::from_secs(10))
        .unwrap_or_else(|| panic!("the process did not stop:\n{}", d.log()));
    let log = d.log();
    assert_eq!(status.code(), Some(0), "{status:?}\n{log}");
    assert!(
        log.contains("recycling: SIGUSR1 (graceful stop requested)"),
        "{log}"
    );
}

#[test]
fn sigterm_stops_an_idle_process() {
    let mut d = Daemon::start(base_config());
    d.signal(libc::SIGTERM);
    let status = d
        .wait_exit(Duration::from_secs(10))
        .expect("the process exits");
    assert_eq!(status.code(), Some(0));
    assert!(d.log().contains("shutting down: SIGTERM"));
}

#[test]
fn malformed_input_closes_the_connection_only() {
    let d = Daemon::start(base_config());
    // Not a preface.
    let mut client = d.connect();
    client.write(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    let ex = client.exchange(b"");
    assert!(ex.eof && ex.accepted.is_none(), "{ex:?}");
    // A good preface and an unknown frame kind.
    let mut client = d.connect();
    let mut bytes = protocol::preface().to_vec();
    bytes.extend_from_slice(&[0x7f, 0, 0, 0, 0, 0, 0, 0]);
    client.write(&bytes).unwrap();
    let ex = client.exchange(b"");
    assert!(ex.eof && ex.accepted.is_none(), "{ex:?}");
    // A REQUEST whose payload is cut short (the header says more).
    let mut client = d.connect();
    let mut bytes = protocol::preface().to_vec();
    bytes.extend_from_slice(&protocol::frame_header(Kind::Request, 3));
    bytes.extend_from_slice(&[1, 2, 3]);
    client.write(&bytes).unwrap();
    let ex = client.exchange(b"");
    assert!(ex.eof && ex.accepted.is_none(), "{ex:?}");
    // A BODY bigger than the READ asked for.
    let mut client = d.connect();
    client.send_request(&RequestSpec::new(&app("faults"), "/upload", "", 10));
    let ex = client.expect_accepted();
    let (kind, payload) = client.reader.read_frame().unwrap();
    assert_eq!(kind, Kind::Read);
    let max = protocol::decode_read(payload).unwrap() as usize;
    // Written by hand: the codec refuses to encode it.
    let mut out = protocol::frame_header(Kind::Body, (max + 1) as u32).to_vec();
    out.extend(vec![0; max + 1]);
    let _ = client.write(&out);
    let ex = client.frames(b"", ex);
    assert!(ex.end != Some(Outcome::Ok), "{ex:?}");
    // The process still serves.
    d.request("faults", "/", "", b"").assert_ok();
    for needle in [
        "does not start with \"RUSTGI\"",
        "unknown frame kind 0x7f",
        "REQUEST payload is truncated",
        "BODY payload of",
    ] {
        assert!(
            d.wait_log(needle, Duration::from_secs(5)),
            "{needle}: {}",
            d.log()
        );
    }
}

#[test]
fn bad_configuration_and_failing_init_exit_with_their_codes() {
    let mut config = base_config();
    config["threads"] = json!(0);
    let mut d = Daemon::spawn(config);
    let status = d.wait_exit(Duration::from_secs(10)).expect("exit");
    assert_eq!(status.code(), Some(2), "{}", d.log());
    assert!(d.log().contains("threads"));

    let mut config = base_config();
    config["apps"][0]["init_config"] = json!([["fail_init", "database unreachable"]]);
    let mut d = Daemon::spawn(config);
    let status = d.wait_exit(Duration::from_secs(10)).expect("exit");
    assert_eq!(status.code(), Some(3), "{}", d.log());
    assert!(d.log().contains("database unreachable"), "{}", d.log());
}

#[test]
fn script_reloading_recycles_when_the_app_changes() {
    let mut config = base_config();
    let copy_dir = tempfile::tempdir().unwrap();
    let copy = copy_dir.path().join("libfaults.so");
    std::fs::copy(app("faults"), &copy).unwrap();
    config["apps"] = json!([{"file": copy, "init_config": []}]);
    config["script_reloading"] = json!(true);
    let mut d = Daemon::start(config);
    // Replace the file (a new inode), as a deployment would.
    let new = copy_dir.path().join("libfaults.so.new");
    std::fs::copy(app("faults"), &new).unwrap();
    std::fs::rename(&new, &copy).unwrap();
    let status = d
        .wait_exit(Duration::from_secs(10))
        .expect("the process exits");
    assert_eq!(status.code(), Some(0));
    assert!(
        d.log().contains("changed (script-reloading)"),
        "{}",
        d.log()
    );
}

#[test]
fn memory_limit_recycles() {
    let mut config = base_config();
    config["memory_limit"] = json!(150u64 << 20);
    let mut d = Daemon::start(config);
    d.request("faults", "/alloc", "mb=200", b"").assert_ok();
    let status = d
        .wait_exit(Duration::from_secs(10))
        .expect("the process exits");
    assert_eq!(status.code(), Some(0));
    assert!(d.log().contains("(memory-limit)"), "{}", d.log());
}

#[test]
fn privileges_are_dropped_to_nobody() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let mut config = base_config();
    config["user"] = json!("nobody");
    config["uid"] = json!(65534);
    config["gid"] = json!(65534);
    config["home"] = json!("/");
    config["umask"] = json!(0o27);
    config["env"] = json!([["RUSTGI_TEST_VAR", "42"]]);
    let d = Daemon::start(config);
    let ex = d.request("faults", "/pid", "", b"");
    ex.assert_ok();
    let v = ex.json();
    assert_eq!(v["uid"], 65534);
    assert_eq!(v["gid"], 65534);
    assert_eq!(v["cwd"], "/");
    assert!(d.log().contains("user nobody"), "{}", d.log());
    for (name, value) in [("RUSTGI_TEST_VAR", "42"), ("HOME", "/"), ("USER", "nobody")] {
        let ex = d.request("faults", "/env", &format!("name={name}"), b"");
        assert_eq!(ex.body_text(), value, "{name}");
    }
    let status = std::fs::read_to_string(format!("/proc/{}/status", d.pid())).unwrap();
    assert!(status.contains("Umask:\t0027"), "{status}");
    assert!(
        status.contains("Groups:\t65534"),
        "supplementary groups: {status}"
    );
    let ex = d.request("echo", "/", "", b"");
    assert_eq!(ex.json()["uid"], 65534);
}

/// Run by `a_connection_from_an_unlisted_uid_is_refused` as another user:
/// connects to the socket in RUSTGI_PEER_SOCKET and checks that the daemon
/// closes the connection without a word.
#[test]
fn peer_client_helper() {
    let Some(socket) = std::env::var_os("RUSTGI_PEER_SOCKET") else {
        return;
    };
    let mut client = Client::connect(Path::new(&socket));
    // SAFETY: getuid has no preconditions.
    assert_ne!(unsafe { libc::getuid() }, 0);
    let _ = client.write(&protocol::preface());
    let mut byte = [0; 1];
    let n = client.reader.get_mut().read(&mut byte).unwrap_or(0);
    assert_eq!(n, 0, "the daemon answered a refused peer");
}

#[test]
fn a_connection_from_an_unlisted_uid_is_refused() {
    if !is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let mut config = base_config();
    config["peer_uids"] = json!([33]);
    let d = Daemon::start(config);
    // Let nobody reach the socket.
    std::fs::set_permissions(d.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&d.socket, std::fs::Permissions::from_mode(0o777)).unwrap();
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "peer_client_helper",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("RUSTGI_PEER_SOCKET", &d.socket)
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the helper failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        d.wait_log(
            "refused a connection from uid 65534 (pid ",
            Duration::from_secs(5)
        ),
        "{}",
        d.log()
    );
    // Root (the Apache parent's uid) is still let in.
    d.request("faults", "/", "", b"").assert_ok();
}

#[test]
fn a_busy_process_leaves_connections_in_the_backlog() {
    let mut config = base_config();
    config["threads"] = json!(1);
    config["queue_timeout"] = json!(1);
    let d = Daemon::start(config);
    // The only thread sleeps 600 ms; the second connection is accepted
    // only then (until then it waits in the kernel's backlog).
    let mut first = d.connect();
    first.send_request(&RequestSpec::new(&app("faults"), "/sleep", "ms=600", 0));
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    let second = d.request("faults", "/", "", b"");
    second.assert_ok();
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
    first.exchange(b"").assert_ok();

    // A request that waits in the backlog past queue-timeout is refused
    // when the thread gets to it.
    let mut first = d.connect();
    first.send_request(&RequestSpec::new(&app("faults"), "/sleep", "ms=1500", 0));
    std::thread::sleep(Duration::from_millis(100));
    let second = d.request("faults", "/", "", b"");
    let reject = second.reject.expect("a REJECT");
    assert_eq!((reject.status, reject.retry_after_seconds), (503, 1));
    first.exchange(b"").assert_ok();
}

#[test]
fn restart_interval_and_inactivity_timeout_recycle() {
    for (option, reason) in [
        ("restart_interval", "running for 1 s (restart-interval)"),
        (
            "inactivity_timeout",
            "no activity for 1 s (inactivity-timeout)",
        ),
    ] {
        let mut config = base_config();
        config[option] = json!(1);
        let mut d = Daemon::start(config);
        let status = d
            .wait_exit(Duration::from_secs(10))
            .expect("the process exits");
        assert_eq!(status.code(), Some(0));
        assert!(
            d.log().contains(&format!("recycling: {reason}")),
            "{}",
            d.log()
        );
    }
}

#[test]
fn cpu_time_limit_recycles_on_sigxcpu() {
    let mut config = base_config();
    config["cpu_time_limit"] = json!(1);
    config["graceful_timeout"] = json!(1);
    let mut d = Daemon::start(config);
    let ex = d.request("faults", "/spin", "", b"");
    assert!(ex.eof, "{ex:?}");
    let status = d
        .wait_exit(Duration::from_secs(10))
        .expect("the process exits");
    assert_eq!(status.code(), Some(0));
    assert!(
        d.log()
            .contains("recycling: CPU time limit of 1 s reached (cpu-time-limit)"),
        "{}",
        d.log()
    );
}

impl Client {
    /// Sends a request on a connection that already carried one: no preface.
    fn send_next_request(&mut self, spec: &RequestSpec) {
        let out = spec.encode(false);
        self.write(&out).unwrap();
    }
}

impl RequestSpec {
    /// The REQUEST frame, after the preface when `preface`.
    fn encode(&self, preface: bool) -> Vec<u8> {
        let mut out = if preface {
            protocol::preface().to_vec()
        } else {
            Vec::new()
        };
        encode_request(
            &mut out,
            self.queue_start_us,
            self.has_body,
            &self.app_file,
            &self.init_config,
            &self.environ,
            &self.config,
        )
        .unwrap();
        out
    }
}

#[test]
fn a_connection_carries_one_request_after_another() {
    let d = Daemon::start(base_config());
    let mut client = d.connect();
    client.send_request(&RequestSpec::new(&app("echo"), "/first", "", 3));
    let first = client.exchange(b"abc");
    first.assert_ok();
    assert_eq!(first.json()["path_info"], "/first");
    for n in 0..3 {
        let path = format!("/next/{n}");
        client.send_next_request(&RequestSpec::new(&app("echo"), &path, "", 2));
        let next = client.frames(b"xy", Exchange::default());
        next.assert_ok();
        assert_eq!(next.json()["path_info"], path.as_str());
        assert_eq!(next.json()["body_len"], 2);
        assert_eq!(next.accepted, first.accepted, "the same process");
    }
}

#[test]
fn a_stopping_process_closes_kept_connections() {
    let d = Daemon::start(base_config());
    let mut client = d.connect();
    client.send_request(&RequestSpec::new(&app("echo"), "/", "", 0));
    client.exchange(b"").assert_ok();
    // Between requests, a graceful stop closes the connection: the child
    // learns it before sending anything more.
    d.signal(libc::SIGUSR1);
    let mut byte = [0u8; 1];
    let n = client.reader.get_mut().read(&mut byte).unwrap_or(0);
    assert_eq!(n, 0, "the connection is closed, not answered");
}

#[test]
fn a_dying_process_resets_only_the_connections_whose_request_it_did_not_read() {
    let mut config = base_config();
    config["threads"] = json!(1);
    let mut d = Daemon::start(config);
    // A kept connection, idle after its first request.
    let mut kept = d.connect();
    kept.send_request(&RequestSpec::new(&app("faults"), "/pid", "", 0));
    kept.exchange(b"").assert_ok();
    // The only thread runs a slow request; the kept connection's next one
    // stays unread meanwhile.
    let mut running = d.connect();
    running.send_request(&RequestSpec::new(&app("faults"), "/sleep", "ms=5000", 0));
    std::thread::sleep(Duration::from_millis(300));
    kept.send_next_request(&RequestSpec::new(&app("faults"), "/pid", "", 0));
    std::thread::sleep(Duration::from_millis(100));
    d.signal(libc::SIGKILL);
    d.wait_exit(Duration::from_secs(10))
        .expect("the process dies");

    // The request it read ends without a reset: the child must not send it
    // again, the app may have run.
    let ex = running.exchange(b"");
    assert!(ex.eof && !ex.reset && ex.end.is_none(), "{ex:?}");
    // The one it never read is reset: safe to send again.
    let ex = kept.frames(b"", Exchange::default());
    assert!(ex.eof && ex.reset && ex.accepted.is_none(), "{ex:?}");
}
