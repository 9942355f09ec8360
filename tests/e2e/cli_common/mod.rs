//! Shared by the tests of the `rustgi` command (the `cli_*` modules): run the
//! built command, and run `rustgi serve` in the background until it is
//! stopped with SIGINT, as Ctrl-C would.
#![allow(dead_code)]

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The `rustgi` executable cargo built for these tests (beside the module
/// and `rustgi-daemon` in `target/release` when the workspace is built).
pub fn rustgi_exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rustgi"))
}

/// Runs `rustgi ARGS` to completion.
pub fn rustgi(args: &[&str]) -> Output {
    rustgi_in(args, None, &[])
}

/// Runs `rustgi ARGS` in `dir` with extra environment variables.
pub fn rustgi_in(args: &[&str], dir: Option<&Path>, env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(rustgi_exe());
    cmd.args(args).stdin(Stdio::null());
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run rustgi")
}

/// stdout and stderr of `out`, for messages.
pub fn output_text(out: &Output) -> String {
    format!(
        "status {}\n--- stdout ---\n{}--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Whether `pid` is gone (or a zombie).
pub fn is_gone(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X')),
    }
}

/// Whether any process is left in the process group `pgid`.
pub fn group_alive(pgid: u32) -> bool {
    let Ok(pgid) = libc::pid_t::try_from(pgid) else {
        return false;
    };
    // SAFETY: kill with signal 0 only checks for existence.
    unsafe { libc::kill(-pgid, 0) == 0 }
}

/// Polls `pred` every 50 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut pred: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if pred() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// `rustgi serve ...` running in the background, its output in a file.
pub struct Serve {
    child: Child,
    pub port: u16,
    pub server_root: PathBuf,
    log: PathBuf,
    status: Option<ExitStatus>,
}

/// How long `serve` may take to answer (it may build a crate first).
pub const SERVE_START: Duration = Duration::from_secs(30);

impl Serve {
    /// Runs `rustgi serve ARGS --port P --server-root ROOT` (P a free port;
    /// `args` may use `@PORT@` for it and `@PORT2@` for a second one) and
    /// waits until Apache answers on P, at most `timeout`. Retries with
    /// other ports when one was taken meanwhile.
    pub fn start(args: &[&str], server_root: &Path, timeout: Duration) -> Serve {
        Self::start_with(args, server_root, timeout, &[], None)
    }

    /// [`Serve::start`] with extra environment variables, in `cwd`.
    pub fn start_with(
        args: &[&str],
        server_root: &Path,
        timeout: Duration,
        env: &[(&str, &str)],
        cwd: Option<&Path>,
    ) -> Serve {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let port = rustgi::free_port().expect("free port");
            let port2 = rustgi::free_port().expect("free port");
            let mut serve = Self::spawn(args, server_root, port, port2, env, cwd);
            match serve.wait_ready(timeout) {
                Ok(()) => return serve,
                Err(log) if attempt < 3 && rustgi::apache::is_bind_failure(&log) => continue,
                Err(log) => panic!("rustgi serve did not answer on port {port}:\n{log}"),
            }
        }
    }

    fn spawn(
        args: &[&str],
        server_root: &Path,
        port: u16,
        port2: u16,
        env: &[(&str, &str)],
        cwd: Option<&Path>,
    ) -> Serve {
        let log = server_root.with_extension("serve.log");
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("open the serve log");
        let args: Vec<String> = args
            .iter()
            .map(|a| {
                a.replace("@PORT@", &port.to_string())
                    .replace("@PORT2@", &port2.to_string())
            })
            .collect();
        let mut cmd = Command::new(rustgi_exe());
        cmd.arg("serve")
            .args(&args)
            .arg("--port")
            .arg(port.to_string())
            .arg("--server-root")
            .arg(server_root)
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("dup"))
            .stderr(out);
        for (k, v) in env {
            cmd.env(k, v);
        }
        if let Some(dir) = cwd {
            cmd.current_dir(dir);
        }
        // rustgi (and so Apache) stops if this test dies.
        rustgi::apache::stop_with_starter(&mut cmd, libc::SIGTERM);
        let child = cmd.spawn().expect("spawn rustgi serve");
        Serve {
            child,
            port,
            server_root: server_root.to_path_buf(),
            log,
            status: None,
        }
    }

    /// Waits until something answers HTTP on the port; the log when
    /// `rustgi` exits first or `timeout` passes.
    fn wait_ready(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                self.status = Some(status);
                return Err(format!("rustgi exited ({status}):\n{}", self.log()));
            }
            if Instant::now() >= deadline {
                let _ = self.stop();
                return Err(format!("no answer within {timeout:?}:\n{}", self.log()));
            }
            let addr = ([127, 0, 0, 1], self.port).into();
            if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                // Apache listens: the parent is up (children may still be
                // starting; requests queue meanwhile).
                return Ok(());
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// What `rustgi` and Apache wrote so far.
    pub fn log(&self) -> String {
        fs::read(&self.log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn addr(&self) -> std::net::SocketAddr {
        ([127, 0, 0, 1], self.port).into()
    }

    /// The pid of Apache's parent (from its pid file, waiting for it).
    pub fn apache_pid(&self) -> u32 {
        let file = self.server_root.join("httpd.pid");
        let mut pid = None;
        wait_until(Duration::from_secs(10), || {
            pid = fs::read_to_string(&file)
                .ok()
                .and_then(|t| t.trim().parse().ok());
            pid.is_some()
        });
        pid.unwrap_or_else(|| panic!("no {}:\n{}", file.display(), self.log()))
    }

    /// Sends `signal` to `rustgi`.
    pub fn signal(&self, signal: i32) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid");
        // SAFETY: our own child, not yet reaped.
        unsafe {
            libc::kill(pid, signal);
        }
    }

    /// Sends SIGINT (Ctrl-C) and waits for `rustgi` to exit, at most
    /// `timeout`; its exit status.
    pub fn interrupt(&mut self, timeout: Duration) -> ExitStatus {
        if let Some(status) = self.status {
            return status;
        }
        self.signal(libc::SIGINT);
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                self.status = Some(status);
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "rustgi did not exit within {timeout:?} of SIGINT:\n{}",
                self.log()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops `rustgi` (SIGTERM, then SIGKILL after 15 s).
    pub fn stop(&mut self) -> io::Result<ExitStatus> {
        if let Some(status) = self.status {
            return Ok(status);
        }
        self.signal(libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                self.status = Some(status);
                return Ok(status);
            }
            thread::sleep(Duration::from_millis(50));
        }
        self.child.kill()?;
        let status = self.child.wait()?;
        self.status = Some(status);
        Ok(status)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.stop();
        if thread::panicking() {
            eprintln!(
                "===== output of rustgi serve (port {}) =====\n{}\n===== end =====",
                self.port,
                self.log()
            );
        }
    }
}

/// A self-signed certificate and key for `localhost`, made with openssl;
/// `None` (the caller skips) when openssl is missing.
pub fn self_signed_cert(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes"])
        .args(["-subj", "/CN=localhost", "-days", "1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "openssl req failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some((cert, key))
}

/// Whether `program` runs: `program --version` (`openssl version`)
/// succeeds.
pub fn have(program: &str) -> bool {
    let arg = if program == "openssl" {
        "version"
    } else {
        "--version"
    };
    Command::new(program)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Writes a file, creating its directory.
pub fn write(path: &Path, text: &str) {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).expect("create dir");
    }
    File::create(path)
        .and_then(|mut f| io::Write::write_all(&mut f, text.as_bytes()))
        .expect("write file");
}
