//! The built artifacts, and a real Apache with mod_rustgi in a server root
//! of its own (`rustgi::httpd_conf`, `rustgi::apache`).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rustgi::apache::Server;
use rustgi::httpd_conf::HttpdConf;

use crate::procfs::DAEMON_EXE;

/// The environment variable naming the directory of the built artifacts.
pub const ARTIFACTS_ENV: &str = "RUSTGI_ARTIFACTS";

/// The module, the daemon, the test apps and `examples/simple`, from one
/// build.
#[derive(Clone, Debug)]
pub struct Artifacts {
    pub dir: PathBuf,
    pub module: PathBuf,
    pub daemon: PathBuf,
    pub echo: PathBuf,
    pub faults: PathBuf,
    pub simple: PathBuf,
}

impl Artifacts {
    /// The artifacts in `dir`; without it `$RUSTGI_ARTIFACTS`, else the
    /// directory of this executable (`target/release`, also for test
    /// binaries in `target/release/deps`).
    pub fn locate(dir: Option<PathBuf>) -> Result<Artifacts, String> {
        let dir = match dir.or_else(|| std::env::var_os(ARTIFACTS_ENV).map(PathBuf::from)) {
            Some(d) => d,
            None => {
                let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
                let d = exe.parent().ok_or("the executable has no directory")?;
                if d.file_name().is_some_and(|n| n == "deps") {
                    d.parent().unwrap_or(d).to_path_buf()
                } else {
                    d.to_path_buf()
                }
            }
        };
        let a = Artifacts {
            module: dir.join("libmod_rustgi.so"),
            daemon: dir.join(DAEMON_EXE),
            echo: dir.join("libecho.so"),
            faults: dir.join("libfaults.so"),
            simple: dir.join("libsimple.so"),
            dir,
        };
        for p in [&a.module, &a.daemon, &a.echo, &a.faults, &a.simple] {
            if !p.is_file() {
                return Err(format!(
                    "{} is missing: run `cargo build --release --workspace` first \
                     (or point --artifacts / ${ARTIFACTS_ENV} at the build)",
                    p.display()
                ));
            }
        }
        Ok(a)
    }
}

/// A directory under the temporary directory that Apache's user can
/// traverse; removed on drop unless kept.
#[derive(Debug)]
pub struct WorkDir {
    pub path: PathBuf,
    pub keep: bool,
}

impl WorkDir {
    pub fn new(prefix: &str) -> Result<WorkDir, String> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!("{prefix}{}-{nanos}", std::process::id()));
        fs::create_dir_all(&path).map_err(|e| format!("create {}: {e}", path.display()))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
            .map_err(|e| format!("chmod {}: {e}", path.display()))?;
        Ok(WorkDir { path, keep: false })
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// Copies `src` to `dst`, readable by everyone.
pub fn copy_readable(src: &Path, dst: &Path) -> Result<(), String> {
    fs::copy(src, dst).map_err(|e| format!("copy {} to {}: {e}", src.display(), dst.display()))?;
    fs::set_permissions(dst, fs::Permissions::from_mode(0o644))
        .map_err(|e| format!("chmod {}: {e}", dst.display()))
}

/// Copies `src` beside `dst` and renames it over `dst` (a new inode, as a
/// deploy does).
pub fn replace_file(src: &Path, dst: &Path) -> Result<(), String> {
    let tmp = dst.with_extension("so.new");
    copy_readable(src, &tmp)?;
    fs::rename(&tmp, dst).map_err(|e| format!("rename over {}: {e}", dst.display()))
}

/// A running Apache with mod_rustgi. Declared field order matters: the
/// server stops before its directory goes.
pub struct Site {
    pub server: Server,
    /// `<root>/apps`, holding the apps.
    pub apps: PathBuf,
    pub root: WorkDir,
}

impl Site {
    /// Starts Apache on a free port with `config` (placeholders `@ROOT@`,
    /// `@APPS@`), the default modules plus `modules`, and `apps` copied
    /// into `<root>/apps` beside `files` (name, contents).
    pub fn start(
        artifacts: &Artifacts,
        prefix: &str,
        apps: &[&Path],
        files: &[(&str, &str)],
        modules: &[&str],
        log_level: &str,
        config: &str,
    ) -> Result<Site, String> {
        let root = WorkDir::new(prefix)?;
        let apps_dir = root.path.join("apps");
        fs::create_dir_all(&apps_dir).map_err(|e| format!("create apps dir: {e}"))?;
        fs::set_permissions(&apps_dir, fs::Permissions::from_mode(0o755))
            .map_err(|e| format!("chmod apps dir: {e}"))?;
        for app in apps {
            let name = app.file_name().ok_or("an app without a file name")?;
            copy_readable(app, &apps_dir.join(name))?;
        }
        for (name, contents) in files {
            let path = apps_dir.join(name);
            fs::write(&path, contents)
                .and_then(|()| fs::set_permissions(&path, fs::Permissions::from_mode(0o644)))
                .map_err(|e| format!("write {}: {e}", path.display()))?;
        }
        let text = config
            .replace("@ROOT@", &root.path.display().to_string())
            .replace("@APPS@", &apps_dir.display().to_string());
        let mut last_conf = String::new();
        let server = Server::start_on_free_port(|port| {
            let mut conf = HttpdConf::new(&root.path, port)
                .rustgi_module(&artifacts.module)
                .log_level(log_level)
                .extra(format!(
                    "<Directory \"{}\">\n    Require all granted\n</Directory>\n{text}",
                    apps_dir.display()
                ));
            for m in modules {
                conf = conf.module(*m);
            }
            last_conf = conf.render();
            conf
        })
        .map_err(|e| format!("apache did not start: {e}\n--- httpd.conf ---\n{last_conf}"))?;
        Ok(Site {
            server,
            apps: apps_dir,
            root,
        })
    }

    /// The error_log so far.
    pub fn error_log(&self) -> String {
        self.server.error_log()
    }

    /// The access_log so far.
    pub fn access_log(&self) -> String {
        String::from_utf8_lossy(&fs::read(self.root.path.join("access_log")).unwrap_or_default())
            .into_owned()
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = self.server.stop();
    }
}
