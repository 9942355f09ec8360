//! The one Apache that serves every case: its server root, configuration,
//! the limit module built from C, and the servers behind mod_proxy (hyper,
//! and granian from the benchmark's venv).

use std::fs;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use rustgi::apache::Server;
use rustgi::httpd_conf::{HttpdConf, Mpm, quote_path};

use crate::cases::Case;
use crate::files;
use crate::http;
use rustgi::python_venv as python;

/// The limit module's source, written into the server root and compiled
/// there.
const LIMIT_C: &str = include_str!("../mod_bench_limit.c");
/// The WSGI hello app.
const HELLO_PY: &str = include_str!("../hello.py");
/// The PoorWSGI app of the PoorWSGI cases.
const POORWSGI_HELLO_PY: &str = include_str!("../poorwsgi_hello.py");
/// The download of the file cases.
const FILE_WRAPPER_PY: &str = include_str!("../file_wrapper.py");
/// The benchmark's venv, in the temporary directory.
pub const VENV_NAME: &str = "rustgi-bench-venv";
/// What the venv holds, pinned so runs are comparable: the server of the
/// granian case and the framework of the PoorWSGI cases.
pub const PYTHON_PACKAGES: &[&str] = &["granian==2.8.7", "poorwsgi==2.8.1"];
/// The answer every case gives.
pub const HELLO: &[u8] = b"Hello, World!";

/// Apache's MPM tuning for the benchmark: the same for every case, and
/// generous, so that Apache's workers are never what runs out. All the
/// processes start at once and none is stopped during the run.
pub const MPM_TUNING: &str = "\
StartServers 4
ServerLimit 4
ThreadLimit 64
ThreadsPerChild 64
MinSpareThreads 64
MaxSpareThreads 256
MaxRequestWorkers 256
MaxConnectionsPerChild 0
MaxKeepAliveRequests 0
";

/// Where the built artifacts of the workspace are.
#[derive(Clone, Debug)]
pub struct Artifacts {
    pub dir: PathBuf,
}

impl Artifacts {
    const NEEDED: [&str; 4] = [
        "libmod_rustgi.so",
        "rustgi-daemon",
        "libhello.so",
        "libfaults.so",
    ];

    /// `dir`, or beside this program, or the workspace's target/release.
    pub fn find(dir: Option<&Path>) -> Result<Artifacts, String> {
        let candidates: Vec<PathBuf> = match dir {
            Some(d) => vec![d.to_path_buf()],
            None => {
                let mut v = Vec::new();
                if let Some(d) = std::env::current_exe()
                    .ok()
                    .and_then(|e| e.parent().map(Path::to_path_buf))
                {
                    v.push(d);
                }
                v.push(crate::args::workspace_dir().join("target").join("release"));
                v
            }
        };
        for d in &candidates {
            if Self::NEEDED.iter().all(|f| d.join(f).is_file()) {
                return Ok(Artifacts { dir: d.clone() });
            }
        }
        Err(format!(
            "cannot find {} in {}: run `cargo build --release --workspace` first (bench/run does)",
            Self::NEEDED.join(", "),
            candidates
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(" or ")
        ))
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

/// The bench-hyper process, killed when dropped.
pub struct Hyper {
    child: Child,
    pub addr: SocketAddr,
}

impl Hyper {
    /// Starts `bench-hyper` (beside this program) on a free port.
    pub fn start() -> Result<Hyper, String> {
        let exe = std::env::current_exe()
            .map_err(|e| e.to_string())?
            .with_file_name("bench-hyper");
        let mut cmd = Command::new(&exe);
        cmd.arg("0").stdout(Stdio::piped()).stdin(Stdio::null());
        // The server goes when we go, even if we are killed.
        rustgi::apache::stop_with_starter(&mut cmd, libc::SIGKILL);
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
        let stdout = child.stdout.take().ok_or("bench-hyper has no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| format!("bench-hyper: {e}"))?;
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|a| a.parse().ok());
        match addr {
            Some(addr) => Ok(Hyper { child, addr }),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!("bench-hyper did not start: {line:?}"))
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Hyper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The benchmark's venv ([`PYTHON_PACKAGES`]), made with pip on the first
/// run.
pub fn venv() -> Result<PathBuf, String> {
    python::venv(VENV_NAME, PYTHON_PACKAGES)
}

/// granian serving bench/hello.py through its WSGI interface, 1 worker,
/// in a process group of its own, which is stopped when dropped.
pub struct Granian {
    child: Child,
    pub addr: SocketAddr,
}

impl Granian {
    /// Starts `granian` from `venv` on `addr` with `threads` blocking
    /// threads (the threads that run Python: as many as a daemon process of
    /// the other Python cases has), serving `hello:application` from `dir`;
    /// waits until it answers.
    pub fn start(
        venv: &Path,
        dir: &Path,
        threads: u32,
        addr: SocketAddr,
    ) -> Result<Granian, String> {
        // `python3 -m granian`: the venv's `granian` script names in its
        // first line the directory the venv was made in, before its rename.
        let exe = venv.join("bin").join("python3");
        let mut cmd = Command::new(&exe);
        cmd.args([
            "-m",
            "granian",
            "--interface",
            "wsgi",
            "--workers",
            "1",
            "--no-ws",
        ])
        .args(["--blocking-threads", &threads.to_string()])
        .args([
            "--host",
            &addr.ip().to_string(),
            "--port",
            &addr.port().to_string(),
        ])
        .args(["--log-level", "warning", "--working-dir"])
        .arg(dir)
        .arg("hello:application")
        .env_remove("PYTHONHOME")
        .env_remove("PYTHONPATH")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
        // A group of its own: its worker is stopped with it.
        cmd.process_group(0);
        rustgi::apache::stop_with_starter(&mut cmd, libc::SIGTERM);
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
        let granian = Granian { child, addr };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match http::get(granian.addr, "/") {
                Ok((200, body)) if body == HELLO => return Ok(granian),
                _ if Instant::now() < deadline => thread::sleep(Duration::from_millis(100)),
                got => {
                    return Err(format!(
                        "granian on {} does not answer: {got:?}",
                        granian.addr
                    ));
                }
            }
        }
    }

    /// Its main process; its worker is a child of it.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Granian {
    fn drop(&mut self) {
        let group = -(self.child.id() as libc::pid_t);
        // SAFETY: kill has no memory-safety preconditions; the group is the
        // one granian was started in.
        unsafe { libc::kill(group, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            thread::sleep(Duration::from_millis(50));
        }
        // SAFETY: as above; whatever of the group is left.
        unsafe { libc::kill(group, libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

/// Runs a command; its output when it fails.
fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Compiles mod_bench_limit.c into `dir`; returns the module's path.
pub fn build_limit_module(dir: &Path) -> Result<PathBuf, String> {
    let src = dir.join("mod_bench_limit.c");
    let so = dir.join("mod_bench_limit.so");
    fs::write(&src, LIMIT_C).map_err(|e| format!("write {}: {e}", src.display()))?;
    let include = run(Command::new("apxs").args(["-q", "INCLUDEDIR"]))
        .map_err(|e| format!("{e}\n(apxs comes with apache2-dev)"))?;
    let apr_include = run(Command::new("apr-1-config").arg("--includedir"))?;
    let apr_cppflags = run(Command::new("apr-1-config").arg("--cppflags"))?;
    let mut cc = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".to_owned()));
    cc.args(["-shared", "-fPIC", "-O2", "-Wall"])
        .args(apr_cppflags.split_whitespace())
        .arg(format!("-I{include}"))
        .arg(format!("-I{apr_include}"))
        .arg("-o")
        .arg(&so)
        .arg(&src);
    run(&mut cc)?;
    Ok(so)
}

/// Writes `contents` to `path`, readable by everyone.
fn write_public(path: &Path, contents: &[u8]) -> Result<(), String> {
    fs::write(path, contents).map_err(|e| format!("write {}: {e}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o644))
        .map_err(|e| format!("chmod {}: {e}", path.display()))
}

fn mkdir_public(path: &Path) -> Result<(), String> {
    fs::create_dir_all(path).map_err(|e| format!("mkdir {}: {e}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("chmod {}: {e}", path.display()))
}

/// What the site is made of.
pub struct SiteSpec<'a> {
    pub root: &'a Path,
    pub artifacts: &'a Artifacts,
    /// Threads of each daemon process (rustgi and wsgi).
    pub threads: u32,
    pub hyper: SocketAddr,
    /// granian's address (none: its case is not configured).
    pub granian: Option<SocketAddr>,
    pub wsgi: bool,
    /// The venv of the PoorWSGI cases (none: they are not configured).
    pub venv: Option<&'a Path>,
    /// The MiB of the file cases' file (none: it is not written).
    pub file_mib: Option<u64>,
}

/// Where the Python apps are in the server root: granian serves from there.
pub fn py_dir(root: &Path) -> PathBuf {
    root.join("py")
}

/// Lays out the server root and returns the configuration for `port`'s
/// builder: the files it needs are in place.
pub fn prepare(spec: &SiteSpec) -> Result<impl Fn(u16) -> HttpdConf + use<>, String> {
    let root = spec.root;
    mkdir_public(root)?;
    let limit = build_limit_module(root)?;
    let apps = root.join("apps");
    let static_dir = root.join("static");
    let py = py_dir(root);
    let py_files = root.join("pyfiles");
    for d in [&apps, &static_dir, &py, &py_files] {
        mkdir_public(d)?;
    }
    for name in ["libhello.so", "libfaults.so"] {
        let src = spec.artifacts.path(name);
        let bytes = fs::read(&src).map_err(|e| format!("read {}: {e}", src.display()))?;
        write_public(&apps.join(name), &bytes)?;
    }
    write_public(&static_dir.join("hello.txt"), HELLO)?;
    write_public(&py.join("hello.py"), HELLO_PY.as_bytes())?;
    write_public(&py.join("poorwsgi_hello.py"), POORWSGI_HELLO_PY.as_bytes())?;
    write_public(
        &py_files.join("file_wrapper.py"),
        FILE_WRAPPER_PY.as_bytes(),
    )?;
    if let Some(mib) = spec.file_mib {
        files::write_file(&py_files.join(files::FILE_NAME), mib)?;
    }

    let q = |p: &Path| quote_path(p);
    let t = spec.threads;
    let hello = q(&apps.join("libhello.so"));
    let faults = q(&apps.join("libfaults.so"));
    let mut extra = String::new();
    extra.push_str("# Benchmark tuning: the same for every case.\n");
    extra.push_str(MPM_TUNING);
    extra.push_str("LimitRequestBody 0\n");
    // Apache's default is Off: files go out with sendfile where the
    // filters allow, for every case.
    extra.push_str("EnableSendfile On\n\n");
    extra.push_str(&format!(
        "LoadModule bench_limit_module {}\n\
         # 1. The limit: a C handler, and a static file.\n\
         <Location /limit>\n    SetHandler bench-limit\n    Require all granted\n</Location>\n\
         Alias /static/ {}\n\
         <Directory {}>\n    Require all granted\n</Directory>\n\
         # mod_wsgi looks PATH_INFO up under the DocumentRoot (a subrequest, for\n\
         # PATH_TRANSLATED): one that is granted, as in a deployment, keeps that\n\
         # from logging a denial for every request with a PATH_INFO.\n\
         DocumentRoot {}\n\n",
        q(&limit),
        q(&static_dir.join("")),
        q(&static_dir),
        q(&static_dir),
    ));
    extra.push_str(&format!(
        "# 2, 3, 6. mod_rustgi: embedded, daemon groups, streaming.\n\
         <Directory {apps_dir}>\n    Require all granted\n</Directory>\n\
         RustgiScriptAlias /embedded {hello}\n\
         RustgiDaemonProcess hello1 processes=1 threads={t} home={root_q}\n\
         RustgiScriptAlias /daemon1 {hello} process-group=hello1\n\
         RustgiDaemonProcess hello2 processes=2 threads={t} home={root_q}\n\
         RustgiScriptAlias /daemon2 {hello} process-group=hello2\n\
         RustgiDaemonProcess big processes=1 threads=2 home={root_q}\n\
         RustgiScriptAlias /big {faults} process-group=big\n\n\
         # 4b. The same Python hello as mod_wsgi's, through the Python bridge.\n\
         <Directory {py_dir}>\n    Require all granted\n</Directory>\n\
         RustgiDaemonProcess python1 processes=1 threads={t} home={root_q}\n\
         RustgiScriptAlias /python1 {hello_py} process-group=python1\n\
         RustgiDaemonProcess python2 processes=2 threads={t} home={root_q}\n\
         RustgiScriptAlias /python2 {hello_py} process-group=python2\n\n\
         # 8. The wsgi.file_wrapper download through the Python bridge.\n\
         <Directory {files_dir}>\n    Require all granted\n</Directory>\n\
         RustgiDaemonProcess pyfile processes=1 threads={t} home={root_q}\n\
         RustgiScriptAlias /file-python {file_py} process-group=pyfile\n         # The same file as a static file: the reference of the file cases.\n         Alias /file-static {static_file}\n\n",
        apps_dir = q(&apps),
        root_q = root.display(),
        py_dir = q(&py),
        hello_py = q(&py.join("hello.py")),
        files_dir = q(&py_files),
        static_file = q(&py_files.join(files::FILE_NAME)),
        file_py = q(&py_files.join("file_wrapper.py")),
    ));
    if let Some(venv) = spec.venv {
        extra.push_str(&format!(
            "# 7. A PoorWSGI route through the Python bridge, PoorWSGI from the venv.\n\
             RustgiDaemonProcess pwpython1 processes=1 threads={t} home={root_q} python-home={venv}\n\
             RustgiScriptAlias /pw-python1 {poor_py} process-group=pwpython1\n\n",
            root_q = root.display(),
            venv = venv.display(),
            poor_py = q(&py.join("poorwsgi_hello.py")),
        ));
    }
    if spec.wsgi {
        let hello_py = q(&py.join("hello.py"));
        extra.push_str(&format!(
            "# 4. mod_wsgi daemon mode, the same processes and threads.\n\
             WSGISocketPrefix {prefix}\n\
             WSGIRestrictEmbedded On\n\
             <Directory {py_dir}>\n    Require all granted\n</Directory>\n\
             WSGIDaemonProcess wsgi1 processes=1 threads={t} display-name=%{{GROUP}} home={root_q}\n\
             WSGIScriptAlias /wsgi1 {hello_py} process-group=wsgi1 application-group=%{{GLOBAL}}\n\
             WSGIDaemonProcess wsgi2 processes=2 threads={t} display-name=%{{GROUP}} home={root_q}\n\
             WSGIScriptAlias /wsgi2 {hello_py} process-group=wsgi2 application-group=%{{GLOBAL}}\n\
             WSGIDaemonProcess wsgifile processes=1 threads={t} display-name=%{{GROUP}} home={root_q}\n\
             WSGIScriptAlias /file-wsgi {file_py} process-group=wsgifile application-group=%{{GLOBAL}}\n\n",
            prefix = q(&root.join("wsgi")),
            py_dir = q(&py),
            root_q = root.display(),
            file_py = q(&py_files.join("file_wrapper.py")),
        ));
        if let Some(venv) = spec.venv {
            extra.push_str(&format!(
                "# 7. The same PoorWSGI route in mod_wsgi daemon mode, PoorWSGI from the venv.\n\
                 WSGIDaemonProcess pwwsgi1 processes=1 threads={t} display-name=%{{GROUP}} home={root_q} python-home={venv}\n\
                 WSGIScriptAlias /pw-wsgi1 {poor_py} process-group=pwwsgi1 application-group=%{{GLOBAL}}\n\n",
                root_q = root.display(),
                venv = venv.display(),
                poor_py = q(&py.join("poorwsgi_hello.py")),
            ));
        }
    }
    extra.push_str(&format!(
        "# 5. mod_proxy_http to hyper; backend connections are pooled and kept alive.\n\
         ProxyPass /proxy/ http://{}/\n\
         <Location /proxy/>\n    Require all granted\n</Location>\n",
        spec.hyper
    ));
    if let Some(granian) = spec.granian {
        extra.push_str(&format!(
            "\n# 5b. mod_proxy_http to granian, bench/hello.py through its WSGI interface.\n\
             ProxyPass /granian/ http://{granian}/\n\
             <Location /granian/>\n    Require all granted\n</Location>\n"
        ));
    }

    let root = root.to_path_buf();
    let module = spec.artifacts.path("libmod_rustgi.so");
    let wsgi = spec.wsgi;
    Ok(move |port| {
        let mut conf = HttpdConf::new(&root, port)
            .mpm(Mpm::Event)
            .rustgi_module(&module)
            .log_level("warn")
            .access_log(false)
            .module("proxy")
            .module("proxy_http");
        if wsgi {
            conf = conf.module("wsgi");
        }
        conf.extra(&extra)
    })
}

/// Whether Debian's mod_wsgi is installed.
pub fn wsgi_available() -> bool {
    rustgi::httpd_conf::modules_dir()
        .join("mod_wsgi.so")
        .is_file()
}

/// Starts Apache on a free port with the site.
pub fn start(make_conf: impl Fn(u16) -> HttpdConf) -> Result<Server, String> {
    Server::start_on_free_port(make_conf).map_err(|e| e.to_string())
}

/// Waits until every case answers `Hello, World!` (daemon groups start in
/// the background), at most `timeout`.
pub fn wait_for_cases(addr: SocketAddr, cases: &[Case], timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    for case in cases {
        loop {
            let got = http::get(addr, case.path());
            match &got {
                Ok((200, body)) if body == HELLO => break,
                _ if Instant::now() < deadline => thread::sleep(Duration::from_millis(100)),
                Ok((status, body)) => {
                    return Err(format!(
                        "{} ({}) answers {status}: {:?}",
                        case.id(),
                        case.path(),
                        String::from_utf8_lossy(&body[..body.len().min(300)])
                    ));
                }
                Err(e) => return Err(format!("{} ({}): {e}", case.id(), case.path())),
            }
        }
    }
    Ok(())
}
