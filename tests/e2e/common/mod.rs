//! Shared by the end-to-end tests (the modules of `tests/e2e/main.rs`): the
//! built artifacts, a [`TestServer`] running the real Apache with
//! mod_rustgi, and a raw HTTP client ([`http`]).
//!
//! Every test module uses a different part of this module.
#![allow(dead_code)]

pub mod daemon;
pub mod http;
pub mod python;

use std::collections::BTreeMap;
use std::fs;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use rustgi::apache::{self, Server};
use rustgi::httpd_conf::{HttpdConf, Mpm};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub use http::{Request, Response};

const BUILD_HINT: &str = "run `cargo build --workspace --release` before the tests";

/// `target/<profile>`, from the test binary's path
/// (`target/<profile>/deps/e2e-<hash>`).
pub fn target_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe().expect("current_exe");
        let deps = exe.parent().expect("test binary has a directory");
        let dir = if deps.file_name().is_some_and(|n| n == "deps") {
            deps.parent().expect("deps has a parent")
        } else {
            deps
        };
        dir.to_path_buf()
    })
}

/// A built shared library the tests use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Artifact {
    /// `libmod_rustgi.so`, the Apache module.
    Module,
    /// `libhello.so`, the example app (`Hello, World!`).
    Hello,
    /// `libecho.so`, the test app that reports what it was given.
    Echo,
    /// `libc_hello.so`, the app written in C.
    CHello,
    /// `libfaults.so`, the test app that misbehaves on request (daemon
    /// mode tests).
    Faults,
    /// `libsimple.so`, the example app ported from PoorWSGI's simple.py
    /// (`examples/simple`).
    Simple,
    /// `libcontrollers.so`, the example app in 15Watt_Wsgi's style
    /// (`examples/controllers`).
    Controllers,
    /// `librustgi_python.so`, the Python bridge, found beside the module.
    PythonBridge,
    /// `libcluster.so`, the app the multi-host test runs on every host
    /// (`tests/apps/cluster`).
    Cluster,
}

impl Artifact {
    pub fn file_name(self) -> &'static str {
        match self {
            Artifact::Module => "libmod_rustgi.so",
            Artifact::Hello => "libhello.so",
            Artifact::Echo => "libecho.so",
            Artifact::CHello => "libc_hello.so",
            Artifact::Faults => "libfaults.so",
            Artifact::Simple => "libsimple.so",
            Artifact::Controllers => "libcontrollers.so",
            Artifact::PythonBridge => "librustgi_python.so",
            Artifact::Cluster => "libcluster.so",
        }
    }

    /// Where the build put it; panics with [`BUILD_HINT`] when it is missing.
    pub fn path(self) -> PathBuf {
        let path = match self {
            // The root package's build script compiles the C app and says
            // where; fall back to the target directory.
            Artifact::CHello => option_env!("RUSTGI_C_HELLO_SO")
                .map(PathBuf::from)
                .unwrap_or_else(|| target_dir().join(self.file_name())),
            _ => target_dir().join(self.file_name()),
        };
        assert!(
            path.is_file(),
            "{} not found at {}: {BUILD_HINT}",
            self.file_name(),
            path.display()
        );
        path
    }
}

/// The built artifacts, each checked to exist.
pub struct Artifacts {
    pub mod_rustgi: PathBuf,
    pub hello: PathBuf,
    pub echo: PathBuf,
    pub c_hello: PathBuf,
}

/// Locates every artifact; panics with [`BUILD_HINT`] if one is missing.
pub fn artifacts() -> Artifacts {
    Artifacts {
        mod_rustgi: Artifact::Module.path(),
        hello: Artifact::Hello.path(),
        echo: Artifact::Echo.path(),
        c_hello: Artifact::CHello.path(),
    }
}

/// A temporary directory `nobody` can traverse (Apache's children run as
/// `nobody` when the tests run as root).
pub fn temp_dir(prefix: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("create a temporary directory");
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod 0755");
    dir
}

/// Makes `dir` traversable and readable by everyone (0755).
pub fn make_traversable(dir: &Path) {
    fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).expect("chmod 0755");
}

/// Copies `src` to `dst`, readable by everyone.
pub fn copy_readable(src: &Path, dst: &Path) {
    fs::copy(src, dst)
        .unwrap_or_else(|e| panic!("copy {} to {}: {e}", src.display(), dst.display()));
    fs::set_permissions(dst, fs::Permissions::from_mode(0o644)).expect("chmod 0644");
}

/// Builds a [`TestServer`].
///
/// The extra configuration may use placeholders, replaced when the file is
/// written: `@ROOT@` (the server root), `@APPS@` (where the apps are
/// copied), `@PORT@` (the port, chosen at start).
pub struct TestServerBuilder {
    dir: tempfile::TempDir,
    apps: PathBuf,
    mpm: Mpm,
    log_level: Option<String>,
    modules: Vec<String>,
    config: String,
    grant_apps: bool,
    /// Where the module is loaded from, when not from the build.
    module: Option<PathBuf>,
}

impl TestServerBuilder {
    /// The server root (exists already: tests may put files in it).
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// `<root>/apps`, where [`TestServerBuilder::app`] copies apps.
    pub fn apps_dir(&self) -> &Path {
        &self.apps
    }

    /// Loads the module from `<root>/modules`, where it is copied with
    /// `rustgi-daemon` and the Python bridge (world-readable): a daemon loads
    /// the bridge after it has dropped privileges, so it must be readable by
    /// the group's user whatever the checkout's permissions are.
    pub fn modules_copied(mut self) -> Self {
        let dir = self.dir.path().join("modules");
        fs::create_dir_all(&dir).expect("create modules dir");
        let module = dir.join(Artifact::Module.file_name());
        copy_readable(&Artifact::Module.path(), &module);
        let daemon = dir.join(daemon::DAEMON_EXE);
        copy_readable(&daemon::daemon_executable(), &daemon);
        fs::set_permissions(&daemon, fs::Permissions::from_mode(0o755)).expect("chmod daemon");
        copy_readable(
            &Artifact::PythonBridge.path(),
            &dir.join(Artifact::PythonBridge.file_name()),
        );
        self.module = Some(module);
        self
    }

    /// Copies an app into `<root>/apps/` (world-readable) and returns the
    /// copy's path.
    pub fn add_app(&mut self, app: Artifact) -> PathBuf {
        let dst = self.apps.join(app.file_name());
        copy_readable(&app.path(), &dst);
        dst
    }

    /// [`TestServerBuilder::add_app`], builder style.
    pub fn app(mut self, app: Artifact) -> Self {
        self.add_app(app);
        self
    }

    /// Writes a file (world-readable) under the root; `rel` may have
    /// directories, which are created (0755).
    pub fn add_file(&mut self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join(rel);
        let parent = path.parent().expect("file has a parent");
        fs::create_dir_all(parent).expect("create directories");
        let mut p = parent;
        while p.starts_with(self.dir.path()) && p != self.dir.path() {
            fs::set_permissions(p, fs::Permissions::from_mode(0o755)).expect("chmod 0755");
            p = p.parent().expect("parent");
        }
        fs::write(&path, contents).expect("write file");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod 0644");
        path
    }

    pub fn mpm(mut self, mpm: Mpm) -> Self {
        self.mpm = mpm;
        self
    }

    pub fn log_level(mut self, level: &str) -> Self {
        self.log_level = Some(level.to_owned());
        self
    }

    pub fn module(mut self, name: &str) -> Self {
        self.modules.push(name.to_owned());
        self
    }

    /// Appends configuration text (with placeholders).
    pub fn config(mut self, text: &str) -> Self {
        self.config.push_str(text);
        self.config.push('\n');
        self
    }

    /// Whether to add `<Directory @APPS@> Require all granted </Directory>`
    /// (default yes).
    pub fn grant_apps(mut self, on: bool) -> Self {
        self.grant_apps = on;
        self
    }

    fn expand(&self, text: &str, port: u16) -> String {
        text.replace("@ROOT@", &self.dir.path().display().to_string())
            .replace("@APPS@", &self.apps.display().to_string())
            .replace("@PORT@", &port.to_string())
    }

    /// The configuration for `port`.
    pub fn httpd_conf(&self, port: u16) -> HttpdConf {
        let mut conf = HttpdConf::new(self.dir.path(), port)
            .mpm(self.mpm)
            .rustgi_module(
                self.module
                    .clone()
                    .unwrap_or_else(|| Artifact::Module.path()),
            );
        if let Some(level) = &self.log_level {
            conf = conf.log_level(level);
        }
        for m in &self.modules {
            conf = conf.module(m.clone());
        }
        if self.grant_apps {
            conf = conf.extra(self.expand(
                "<Directory \"@APPS@\">\n    Require all granted\n</Directory>",
                port,
            ));
        }
        conf.extra(self.expand(&self.config, port))
    }

    /// Writes the configuration (for the port 1) and runs `apache2 -t`.
    pub fn config_test(&self) -> ConfigTest {
        let conf = self.httpd_conf(1);
        let path = conf.write().expect("write httpd.conf");
        let out = apache::config_test(&path).expect("run apache2 -t");
        ConfigTest {
            success: out.status.success(),
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
            config_path: path,
            config: conf.render(),
        }
    }

    /// Starts Apache; panics with its logs when it does not come up.
    pub fn start(self) -> TestServer {
        match self.try_start() {
            Ok(s) => s,
            Err((e, conf)) => panic!("apache did not start: {e}\n--- httpd.conf ---\n{conf}"),
        }
    }

    /// Starts Apache, or returns why not, with the configuration text.
    pub fn try_start(self) -> Result<TestServer, (apache::StartError, String)> {
        let mut last_conf = String::new();
        let result = Server::start_on_free_port(|port| {
            let conf = self.httpd_conf(port);
            last_conf = conf.render();
            conf
        });
        match result {
            Ok(server) => Ok(TestServer {
                server,
                apps: self.apps,
                dir: self.dir,
            }),
            Err(e) => Err((e, last_conf)),
        }
    }
}

/// What `apache2 -t` said about a configuration.
pub struct ConfigTest {
    pub success: bool,
    /// stdout and stderr.
    pub output: String,
    pub config_path: PathBuf,
    pub config: String,
}

/// A real Apache with mod_rustgi, in a temporary server root, on its own
/// port. Stopped on drop; if the test is failing, its error_log is printed.
pub struct TestServer {
    // Declared first: dropped (stopped) before the directory is removed.
    server: Server,
    apps: PathBuf,
    dir: tempfile::TempDir,
}

impl TestServer {
    pub fn builder() -> TestServerBuilder {
        let dir = temp_dir("rustgi-e2e-");
        let apps = dir.path().join("apps");
        fs::create_dir(&apps).expect("create apps dir");
        fs::set_permissions(&apps, fs::Permissions::from_mode(0o755)).expect("chmod apps");
        TestServerBuilder {
            dir,
            apps,
            mpm: Mpm::Event,
            log_level: None,
            modules: Vec::new(),
            config: String::new(),
            grant_apps: true,
            module: None,
        }
    }

    pub fn port(&self) -> u16 {
        self.server.port()
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn apps_dir(&self) -> &Path {
        &self.apps
    }

    /// The pid of Apache's parent process.
    pub fn apache_pid(&self) -> u32 {
        self.server.pid()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port())
    }

    pub fn error_log(&self) -> String {
        self.server.error_log()
    }

    pub fn config_text(&self) -> String {
        fs::read_to_string(self.server.config_path()).unwrap_or_default()
    }

    /// Waits until a line of the error_log satisfies `pred`; returns that
    /// line. Panics with the log (and `what`) after `timeout`.
    pub fn wait_for_log_match(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.error_log();
            if let Some(line) = log.lines().find(|l| pred(l)) {
                return line.to_owned();
            }
            if Instant::now() >= deadline {
                panic!(
                    "no error_log line {what} within {:.1} s; error_log:\n{log}",
                    timeout.as_secs_f64()
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until a line of the error_log contains every one of `needles`;
    /// returns that line. Panics with the log after `timeout`.
    pub fn wait_for_log_line(&self, needles: &[&str], timeout: Duration) -> String {
        self.wait_for_log_match(&format!("with all of {needles:?}"), timeout, |l| {
            needles.iter().all(|n| l.contains(n))
        })
    }

    /// Waits until the error_log contains `needle`; returns the first line
    /// that does. Panics with the log after `timeout`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> String {
        self.wait_for_log_line(&[needle], timeout)
    }

    /// Sends a request; panics on I/O errors (with the error_log).
    pub fn send(&self, req: &Request) -> Response {
        http::send(self.addr(), req).unwrap_or_else(|e| {
            panic!(
                "{} {}: {e}\nerror_log:\n{}",
                req.method,
                req.target,
                self.error_log()
            )
        })
    }

    pub fn get(&self, target: &str) -> Response {
        self.send(&Request::get(target))
    }

    /// Sends raw bytes; panics on I/O errors.
    pub fn send_raw(&self, raw: &[u8]) -> Response {
        http::send_raw(self.addr(), raw)
            .unwrap_or_else(|e| panic!("raw request: {e}\nerror_log:\n{}", self.error_log()))
    }

    /// Sends a request and returns once the response head arrived.
    pub fn open(&self, req: &Request) -> http::StreamingResponse {
        http::open(self.addr(), req).unwrap_or_else(|e| {
            panic!(
                "{} {}: {e}\nerror_log:\n{}",
                req.method,
                req.target,
                self.error_log()
            )
        })
    }

    /// GETs `target` from the echo app, asserts 200 and returns its JSON.
    pub fn echo(&self, req: &Request) -> Echo {
        let resp = self.send(req);
        assert_eq!(
            resp.status(),
            200,
            "{} {}: {}",
            req.method,
            req.target,
            resp.text()
        );
        Echo::new(resp.json())
    }

    /// Stops Apache now (also done on drop).
    pub fn stop(&mut self) {
        let _ = self.server.stop();
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.server.stop();
        if thread::panicking() {
            eprintln!(
                "===== error_log of the apache on port {} ({}) =====\n{}\n===== end of error_log =====",
                self.port(),
                self.server.error_log_path().display(),
                self.server.logs()
            );
        }
    }
}

/// Name/value pairs as the echo app reports them: a JSON object, or an
/// array of `[name, value]` or `{"name": .., "value": ..}`.
pub fn pairs(v: &Value) -> BTreeMap<String, String> {
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match v {
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), text(v))).collect(),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::Array(kv) if kv.len() == 2 => (text(&kv[0]), text(&kv[1])),
                Value::Object(o) => (
                    text(o.get("name").unwrap_or(&Value::Null)),
                    text(o.get("value").unwrap_or(&Value::Null)),
                ),
                other => panic!("not a pair: {other}"),
            })
            .collect(),
        Value::Null => BTreeMap::new(),
        other => panic!("not a set of pairs: {other}"),
    }
}

/// The echo app's answer.
#[derive(Debug, Clone)]
pub struct Echo {
    pub json: Value,
}

impl Echo {
    pub fn new(json: Value) -> Self {
        Echo { json }
    }

    /// A string field; panics when it is missing.
    pub fn str(&self, field: &str) -> String {
        match self.json.get(field) {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => panic!("echo answer has no {field:?}: {}", self.json),
        }
    }

    /// A numeric field; panics when it is missing or not a number.
    pub fn num(&self, field: &str) -> u64 {
        match self.json.get(field) {
            Some(Value::Number(n)) => n.as_u64().expect("unsigned number"),
            Some(Value::String(s)) => s.parse().unwrap_or_else(|_| panic!("{field}: {s:?}")),
            other => panic!("echo answer has no number {field:?}: {other:?}"),
        }
    }

    pub fn environ(&self) -> BTreeMap<String, String> {
        pairs(self.json.get("environ").unwrap_or(&Value::Null))
    }

    /// One environ variable.
    pub fn env(&self, name: &str) -> Option<String> {
        self.environ().get(name).cloned()
    }

    pub fn headers(&self) -> BTreeMap<String, String> {
        pairs(self.json.get("headers").unwrap_or(&Value::Null))
    }

    pub fn config(&self) -> BTreeMap<String, String> {
        pairs(self.json.get("config").unwrap_or(&Value::Null))
    }

    pub fn init_config(&self) -> BTreeMap<String, String> {
        pairs(self.json.get("init_config").unwrap_or(&Value::Null))
    }
}

/// `len` bytes of deterministic pseudo-random data (all byte values).
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        // xorshift64*
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A map from string pairs, for comparisons.
pub fn map(items: &[(&str, &str)]) -> BTreeMap<String, String> {
    items
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Compiles C source into a shared library at `out` (`cc -shared -fPIC`).
pub fn compile_c_library(source: &str, out: &Path) {
    let src = out.with_extension("c");
    fs::write(&src, source).expect("write C source");
    let status = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(out)
        .arg(&src)
        .status()
        .expect("run cc");
    assert!(status.success(), "cc failed for {}", src.display());
    fs::set_permissions(out, fs::Permissions::from_mode(0o644)).expect("chmod 0644");
}

/// Writes an htpasswd file with one user (`htpasswd -bc`), readable by all.
pub fn htpasswd(file: &Path, user: &str, password: &str) {
    let out = Command::new("htpasswd")
        .arg("-bc")
        .arg(file)
        .args([user, password])
        .output()
        .expect("run htpasswd (apache2-utils)");
    assert!(
        out.status.success(),
        "htpasswd failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    fs::set_permissions(file, fs::Permissions::from_mode(0o644)).expect("chmod 0644");
}

/// Base64 (standard alphabet, padded), for Basic credentials.
pub fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Whether the tests run as root (Apache's children then run as `nobody`).
pub fn running_as_root() -> bool {
    rustgi::httpd_conf::default_user().is_some()
}
