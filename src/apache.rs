//! Run the real Apache httpd: find the binary, test a configuration, and
//! run a server in the foreground until it is stopped.
//!
//! ```no_run
//! use rustgi::apache::Server;
//! use rustgi::httpd_conf::HttpdConf;
//!
//! let root = std::path::PathBuf::from("/tmp/site");
//! let mut server = Server::start_on_free_port(|port| HttpdConf::new(&root, port))?;
//! println!("listening on {}", server.port());
//! server.stop()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use crate::httpd_conf::{HttpdConf, apxs_query};

/// How long [`Server::start`] waits for Apache to answer.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);

/// How long [`Server::stop`] waits after SIGTERM before it sends SIGKILL.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// How many ports [`Server::start_on_free_port`] tries.
pub const PORT_ATTEMPTS: usize = 3;

/// The environment variable that, when set, names the Apache binary to use.
pub const HTTPD_ENV: &str = "RUSTGI_HTTPD";

/// The Apache binary: `$RUSTGI_HTTPD`, `/usr/sbin/apache2`, or `apache2`
/// (then `httpd`) in the directory `apxs -q SBINDIR` prints. Falls back to
/// plain `apache2`, left for `PATH` to find. Looked up once per process.
pub fn apache_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(p) = std::env::var_os(HTTPD_ENV).filter(|p| !p.is_empty()) {
            return PathBuf::from(p);
        }
        let debian = PathBuf::from("/usr/sbin/apache2");
        if debian.is_file() {
            return debian;
        }
        if let Some(sbin) = apxs_query("SBINDIR") {
            let target = apxs_query("TARGET").unwrap_or_else(|| "apache2".to_owned());
            for name in [target.as_str(), "apache2", "httpd"] {
                let p = Path::new(&sbin).join(name);
                if p.is_file() {
                    return p;
                }
            }
        }
        PathBuf::from("apache2")
    })
}

/// Runs `apache2 -t -f CONF`: Apache parses the configuration (running the
/// modules' directive handlers) and exits, 0 when it is valid. The verdict
/// and any errors are on stderr.
pub fn config_test(conf: &Path) -> io::Result<Output> {
    Command::new(apache_binary())
        .arg("-t")
        .arg("-f")
        .arg(conf)
        .stdin(Stdio::null())
        .output()
}

/// [`HttpdConf::write`]s `conf`, then [`config_test`]s it.
pub fn config_test_conf(conf: &HttpdConf) -> io::Result<Output> {
    let path = conf.write()?;
    config_test(&path)
}

/// A port on 127.0.0.1 that was free a moment ago: binds port 0, reads the
/// port the kernel chose and releases it. Another process may take it
/// before Apache binds it; [`Server::start_on_free_port`] retries then.
pub fn free_port() -> io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// Whether Apache's log says it could not bind its port.
pub fn is_bind_failure(log: &str) -> bool {
    log.contains("could not bind") || log.contains("Address already in use")
}

/// Why a server did not start.
#[derive(Debug)]
pub enum StartError {
    /// Writing the configuration or spawning Apache failed.
    Io(io::Error),
    /// Apache exited before it answered.
    Exited {
        /// Its exit status.
        status: ExitStatus,
        /// Its error_log and what it wrote to stdout and stderr.
        log: String,
    },
    /// Apache did not answer in time (it has been stopped).
    Timeout {
        /// How long it was given.
        waited: Duration,
        /// Its error_log and what it wrote to stdout and stderr.
        log: String,
    },
}

impl StartError {
    /// The logs gathered when the start failed (empty for [`StartError::Io`]).
    pub fn log(&self) -> &str {
        match self {
            StartError::Io(_) => "",
            StartError::Exited { log, .. } | StartError::Timeout { log, .. } => log,
        }
    }

    /// Whether Apache failed because its port was taken.
    pub fn is_bind_failure(&self) -> bool {
        is_bind_failure(self.log())
    }
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Io(e) => write!(f, "could not start apache: {e}"),
            StartError::Exited { status, log } => {
                write!(f, "apache exited before it answered ({status}):\n{log}")
            }
            StartError::Timeout { waited, log } => write!(
                f,
                "apache did not answer within {:.1} s:\n{log}",
                waited.as_secs_f64()
            ),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for StartError {
    fn from(e: io::Error) -> Self {
        StartError::Io(e)
    }
}

/// Makes the process `cmd` starts get `signal` when the thread that starts
/// it exits (`PR_SET_PDEATHSIG`), even if it is killed; one whose starter
/// died before that was set does not start (`ESRCH`). For the servers the
/// tests, the benchmarks and `rustgi serve` start, which must not outlive
/// them.
pub fn stop_with_starter(cmd: &mut Command, signal: libc::c_int) {
    let parent = std::process::id();
    // SAFETY: the closure runs in the forked child before exec; it only
    // calls prctl and getppid, which are async-signal-safe, and builds its
    // error without allocating.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, signal) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The starter died before the prctl: stop now.
            if u32::try_from(libc::getppid()).ok() != Some(parent) {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

/// A running `apache2 -f CONF -DFOREGROUND`, stopped on [`Server::stop`] or
/// when dropped.
///
/// Apache runs in a process group of its own (it signals its whole group
/// when it stops), so a terminal's Ctrl-C does not reach it; instead it gets
/// SIGTERM when the thread that started it exits (`PR_SET_PDEATHSIG`).
/// Start, use and stop a server in one thread (or keep the starting thread
/// alive while the server is in use).
#[derive(Debug)]
pub struct Server {
    child: Child,
    port: u16,
    host: String,
    config_path: PathBuf,
    error_log: PathBuf,
    log_start: u64,
    output_log: PathBuf,
    status: Option<ExitStatus>,
}

impl Server {
    /// Writes `conf`, starts Apache with it and waits until it answers
    /// HTTP on its port (at most [`START_TIMEOUT`]).
    pub fn start(conf: &HttpdConf) -> Result<Server, StartError> {
        Self::start_with_timeout(conf, START_TIMEOUT)
    }

    /// [`Server::start`] with another timeout.
    pub fn start_with_timeout(conf: &HttpdConf, timeout: Duration) -> Result<Server, StartError> {
        let config_path = conf.write()?;
        let error_log = conf.error_log_path();
        // The log may hold earlier runs: this server's part starts here.
        let log_start = fs::metadata(&error_log).map(|m| m.len()).unwrap_or(0);
        let output_log = conf.server_root().join("apache2.output");
        let out = File::create(&output_log)?;
        let mut cmd = Command::new(apache_binary());
        cmd.arg("-f")
            .arg(&config_path)
            .arg("-DFOREGROUND")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            // Apache stops its children with killpg(getpgrp()): in our
            // process group that would kill us too.
            .process_group(0);
        // Apache gets SIGTERM when the thread that started it dies, so an
        // interrupted test run leaves no server behind.
        stop_with_starter(&mut cmd, libc::SIGTERM);
        let child = cmd.spawn()?;
        let mut server = Server {
            child,
            port: conf.get_port(),
            host: conf.get_listen_host().to_owned(),
            config_path,
            error_log,
            log_start,
            output_log,
            status: None,
        };
        server.wait_ready(timeout)?;
        Ok(server)
    }

    /// Starts Apache on a free port: `make_conf(port)` builds the
    /// configuration for a port from [`free_port`]. When Apache cannot bind
    /// it (someone took it meanwhile), tries again with another port, up to
    /// [`PORT_ATTEMPTS`] times in all.
    pub fn start_on_free_port(
        mut make_conf: impl FnMut(u16) -> HttpdConf,
    ) -> Result<Server, StartError> {
        let mut attempt = 1;
        loop {
            let conf = make_conf(free_port()?);
            match Self::start(&conf) {
                Err(e) if e.is_bind_failure() && attempt < PORT_ATTEMPTS => attempt += 1,
                result => return result,
            }
        }
    }

    fn wait_ready(&mut self, timeout: Duration) -> Result<(), StartError> {
        let start = Instant::now();
        let deadline = start + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                self.status = Some(status);
                return Err(StartError::Exited {
                    status,
                    log: self.logs(),
                });
            }
            let now = Instant::now();
            if now >= deadline {
                let _ = self.stop();
                return Err(StartError::Timeout {
                    waited: timeout,
                    log: self.logs(),
                });
            }
            if self.probe(deadline - now) {
                return Ok(());
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends `OPTIONS * HTTP/1.0`, which Apache answers itself without
    /// running any app, and tells whether an HTTP response came back.
    fn probe(&self, left: Duration) -> bool {
        let Ok(addr) = format!("{}:{}", self.host, self.port).parse::<SocketAddr>() else {
            return false;
        };
        let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(250)) else {
            return false;
        };
        // Children may still be starting: wait for the answer, but not past
        // the deadline, and not so long that a dead parent goes unnoticed.
        let wait = left
            .min(Duration::from_secs(2))
            .max(Duration::from_millis(10));
        let _ = s.set_read_timeout(Some(wait));
        let _ = s.set_write_timeout(Some(wait));
        if s.write_all(b"OPTIONS * HTTP/1.0\r\n\r\n").is_err() {
            return false;
        }
        let mut buf = [0u8; 5];
        let mut got = 0;
        while got < buf.len() {
            match s.read(&mut buf[got..]) {
                Ok(0) | Err(_) => return false,
                Ok(n) => got += n,
            }
        }
        &buf == b"HTTP/"
    }

    /// The port Apache listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address Apache listens on.
    pub fn addr(&self) -> SocketAddr {
        format!("{}:{}", self.host, self.port)
            .parse()
            .unwrap_or_else(|_| SocketAddr::from((Ipv4Addr::LOCALHOST, self.port)))
    }

    /// The process id of Apache's parent process.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The configuration file Apache runs with.
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// The error_log file.
    pub fn error_log_path(&self) -> &Path {
        &self.error_log
    }

    /// What this server wrote to its error_log so far (the file may also
    /// hold earlier runs' lines, which are left out).
    pub fn error_log(&self) -> String {
        let mut bytes = fs::read(&self.error_log).unwrap_or_default();
        let start = usize::try_from(self.log_start).unwrap_or(usize::MAX);
        if start <= bytes.len() {
            bytes.drain(..start);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The error_log, followed by what Apache wrote to stdout and stderr
    /// (before it opened its error_log), for diagnostics.
    pub fn logs(&self) -> String {
        let mut text = self.error_log();
        let output = read_lossy(&self.output_log);
        if !output.trim().is_empty() {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str("--- apache2 stdout/stderr ---\n");
            text.push_str(&output);
        }
        text
    }

    /// Whether Apache's parent process is still running.
    pub fn is_running(&mut self) -> bool {
        if self.status.is_some() {
            return false;
        }
        match self.child.try_wait() {
            Ok(Some(status)) => {
                self.status = Some(status);
                false
            }
            Ok(None) => true,
            Err(_) => false,
        }
    }

    /// Stops Apache: SIGTERM (Apache stops its children and exits), then
    /// after [`STOP_TIMEOUT`] SIGKILL. Returns the exit status; calling it
    /// again returns the same status.
    pub fn stop(&mut self) -> io::Result<ExitStatus> {
        if let Some(status) = self.status {
            return Ok(status);
        }
        if let Some(status) = self.child.try_wait()? {
            self.status = Some(status);
            return Ok(status);
        }
        self.signal(libc::SIGTERM);
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                self.status = Some(status);
                return Ok(status);
            }
            thread::sleep(Duration::from_millis(20));
        }
        self.child.kill()?;
        let status = self.child.wait()?;
        self.status = Some(status);
        Ok(status)
    }

    fn signal(&self, sig: libc::c_int) {
        let Ok(pid) = libc::pid_t::try_from(self.child.id()) else {
            return;
        };
        // SAFETY: kill has no memory-safety preconditions. The pid is that of
        // our own child, which has not been reaped yet (its status is not
        // known), so it cannot have been reused by another process.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

fn read_lossy(path: &Path) -> String {
    fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_bindable() {
        let port = free_port().unwrap();
        assert_ne!(port, 0);
        TcpListener::bind((Ipv4Addr::LOCALHOST, port)).unwrap();
    }

    #[test]
    fn bind_failure_detection() {
        assert!(is_bind_failure(
            "(98)Address already in use: AH00072: make_sock: could not bind to address 127.0.0.1:80"
        ));
        assert!(is_bind_failure(
            "AH00072: make_sock: could not bind to address"
        ));
        assert!(!is_bind_failure("AH00558: Could not reliably determine"));
    }

    #[test]
    fn binary_is_found() {
        let bin = apache_binary();
        let out = Command::new(bin).arg("-v").output().unwrap();
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).contains("Apache/2.4"));
    }

    fn root() -> tempfile::TempDir {
        let dir = tempfile::Builder::new()
            .prefix("rustgi-apache-test-")
            .tempdir()
            .unwrap();
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        dir
    }

    #[test]
    fn config_test_accepts_and_rejects() {
        let dir = root();
        let good = HttpdConf::new(dir.path(), 1);
        let out = config_test_conf(&good).unwrap();
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{text}");
        assert!(text.contains("Syntax OK"), "{text}");

        let bad = good.extra("NoSuchDirective here");
        let out = config_test_conf(&bad).unwrap();
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(text.contains("NoSuchDirective"), "{text}");
        assert!(
            text.contains(&bad.config_path().display().to_string()),
            "{text}"
        );
    }

    /// Serves a static file with a plain Apache (no mod_rustgi), for all MPMs.
    #[test]
    fn serves_and_stops() {
        for mpm in crate::httpd_conf::Mpm::ALL {
            let dir = root();
            let docs = dir.path().join("docs");
            fs::create_dir(&docs).unwrap();
            fs::write(docs.join("f.txt"), "static bytes\n").unwrap();
            let docs_s = docs.display().to_string();
            let mut server = Server::start_on_free_port(|port| {
                HttpdConf::new(dir.path(), port).mpm(mpm).extra(format!(
                    "Alias /f \"{docs_s}/f.txt\"\n<Directory \"{docs_s}\">\nRequire all granted\n</Directory>"
                ))
            })
            .unwrap_or_else(|e| panic!("{mpm}: {e}"));
            assert!(server.is_running());

            let mut s = TcpStream::connect(server.addr()).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            s.write_all(b"GET /f HTTP/1.0\r\n\r\n").unwrap();
            let mut resp = String::new();
            s.read_to_string(&mut resp).unwrap();
            assert!(resp.starts_with("HTTP/1.1 200 "), "{mpm}: {resp}");
            assert!(resp.ends_with("\r\n\r\nstatic bytes\n"), "{mpm}: {resp}");

            let pid = server.pid();
            let status = server.stop().unwrap();
            assert!(!server.is_running());
            assert_eq!(server.stop().unwrap(), status);
            // The parent is gone and reaped, and the port is closed.
            assert!(!Path::new(&format!("/proc/{pid}")).exists());
            assert!(TcpStream::connect(server.addr()).is_err());
            assert!(server.error_log().contains("resuming normal operations"));
        }
    }

    #[test]
    fn error_log_is_this_runs_part() {
        let dir = root();
        let conf = HttpdConf::new(dir.path(), 1);
        fs::write(conf.error_log_path(), "an earlier run's line\n").unwrap();
        let server = Server::start_on_free_port(|port| conf.clone().port(port)).unwrap();
        let log = server.error_log();
        assert!(log.contains("resuming normal operations"), "{log}");
        assert!(!log.contains("earlier run"), "{log}");
        drop(server);
        let whole = fs::read_to_string(conf.error_log_path()).unwrap();
        assert!(whole.starts_with("an earlier run's line\n"), "{whole}");
    }

    #[test]
    fn timeout_stops_the_server() {
        let dir = root();
        let conf = HttpdConf::new(dir.path(), free_port().unwrap());
        let err = Server::start_with_timeout(&conf, Duration::ZERO).unwrap_err();
        assert!(matches!(err, StartError::Timeout { .. }), "{err}");
        assert!(err.to_string().contains("did not answer"), "{err}");
        // Stopped: nothing listens on the port any more.
        assert!(TcpStream::connect(("127.0.0.1", conf.get_port())).is_err());
    }

    #[test]
    fn bad_config_reports_the_log() {
        let dir = root();
        let conf = HttpdConf::new(dir.path(), free_port().unwrap()).extra("Bogus 1");
        let err = Server::start(&conf).unwrap_err();
        assert!(matches!(err, StartError::Exited { .. }), "{err}");
        assert!(err.log().contains("Bogus"), "{err}");
        assert!(!err.is_bind_failure());
    }

    #[test]
    fn port_taken_is_a_bind_failure_and_is_retried() {
        let dir = root();
        let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = taken.local_addr().unwrap().port();
        // The first port offered is taken: Apache says it cannot bind it
        // (or the start would fail), and the retry gets another port.
        let mut offered = Vec::new();
        let server = Server::start_on_free_port(|p| {
            offered.push(p);
            HttpdConf::new(dir.path(), if offered.len() == 1 { port } else { p })
        })
        .unwrap();
        assert_eq!(offered.len(), 2);
        assert_ne!(server.port(), port);
    }
}
