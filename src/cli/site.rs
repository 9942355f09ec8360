//! The server root that `rustgi serve` and `rustgi setup-server` write: a
//! standalone `httpd.conf` that serves one app, and an `apachectl` script
//! that controls the Apache running it.
//!
//! Like mod_wsgi-express, the app runs in a daemon process group by
//! default:
//!
//! ```apache
//! RustgiSocketPrefix "ROOT/rustgi"
//! RustgiRestrictEmbedded On
//! RustgiScriptReloading Off
//! RustgiDaemonProcess hello processes=1 threads=5 "home=ROOT" display-name=%{GROUP}
//! RustgiScriptAlias / "/path/libhello.so" process-group=hello
//! ```
//!
//! and `--embedded` runs it inside Apache's children instead.

use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::args::{Arg, Args, no_value};
use super::cargo;
use super::locate::{daemon_beside, find_module};
use crate::apache::apache_binary;
use crate::httpd_conf::{HttpdConf, Mpm, host_port, quote, quote_path};
use rustgi_abi::python::is_script as is_wsgi_script;
use rustgi_host::users::{self, is_root};

/// The options `serve` and `setup-server` share, as given.
#[derive(Clone, Debug, PartialEq)]
pub struct SiteOptions {
    /// `APP.so` or a crate's directory.
    pub app: PathBuf,
    pub port: u16,
    pub host: String,
    pub processes: u32,
    pub threads: u32,
    pub embedded: bool,
    /// The URL the app is mounted at.
    pub mount_point: String,
    pub url_aliases: Vec<(String, PathBuf)>,
    pub app_config: Vec<(String, String)>,
    pub user: Option<String>,
    pub group: Option<String>,
    pub reload_on_changes: bool,
    pub https_port: Option<u16>,
    pub ssl_cert: Option<PathBuf>,
    pub ssl_key: Option<PathBuf>,
    pub mpm: Mpm,
    pub server_root: Option<PathBuf>,
    pub module: Option<PathBuf>,
    pub include_files: Vec<PathBuf>,
    pub log_level: String,
    pub request_timeout: Option<u32>,
    pub maximum_requests: Option<u64>,
    pub working_directory: Option<PathBuf>,
    /// Where to serve the status page (`SetHandler rustgi-status`), to
    /// local clients only.
    pub status_url: Option<String>,
    /// For a WSGI script: its Python (a virtual environment).
    pub python_home: Option<PathBuf>,
    /// For a WSGI script: directories added to `sys.path`, after the
    /// script's own.
    pub python_path: Vec<PathBuf>,
}

impl Default for SiteOptions {
    fn default() -> Self {
        SiteOptions {
            app: PathBuf::new(),
            port: 8000,
            host: "127.0.0.1".to_owned(),
            processes: 1,
            threads: 5,
            embedded: false,
            mount_point: "/".to_owned(),
            url_aliases: Vec::new(),
            app_config: Vec::new(),
            user: None,
            group: None,
            reload_on_changes: false,
            https_port: None,
            ssl_cert: None,
            ssl_key: None,
            mpm: Mpm::Event,
            server_root: None,
            module: None,
            include_files: Vec::new(),
            log_level: "info".to_owned(),
            request_timeout: None,
            maximum_requests: None,
            working_directory: None,
            status_url: None,
            python_home: None,
            python_path: Vec::new(),
        }
    }
}

/// The options' help text, shared by `serve` and `setup-server`.
pub const OPTIONS_HELP: &str = "\
  --port N                  port to listen on (default 8000)
  --host ADDR               address to listen on (default 127.0.0.1; 0.0.0.0 for all)
  --processes N             daemon processes (default 1)
  --threads N               request threads per daemon process (default 5)
  --embedded                run the app inside Apache's children, not in a daemon group
  --mount-point URL         where the app is mounted (default /)
  --url-alias URL PATH      serve the file or directory PATH at URL, by Apache (repeatable)
  --app-config KEY=VALUE    a RustgiAppConfig pair for the app (repeatable)
  --user NAME, --group NAME who Apache's children and the daemons run as, when
                            started as root (default nobody/nogroup)
  --reload-on-changes       RustgiScriptReloading On: a replaced APP.so is reloaded;
                            `serve CRATE_DIR` also rebuilds when the sources change
  --https-port N            also serve HTTPS (and HTTP/2) on port N; needs:
  --ssl-cert FILE           the certificate (PEM)
  --ssl-key FILE            its private key (PEM)
  --mpm NAME                event, worker or prefork (default event)
  --server-root DIR         where httpd.conf, apachectl and the run files go
                            (default $TMPDIR/rustgi-HOST:PORT:UID)
  --module PATH             the mod_rustgi to load (default: the one beside this command,
                            else the installed one)
  --include-file FILE       Include FILE at the end of httpd.conf (repeatable)
  --log-level LEVEL         Apache's LogLevel (default info)
  --request-timeout N       the daemon group's request-timeout, in seconds (default 60)
  --maximum-requests N      recycle a daemon process after N requests (default 0: never)
  --working-directory DIR   the daemon processes' directory (default the server root)
  --status-url URL          serve the status page at URL, to local clients
                            (for `rustgi status http://HOST:PORT/URL`)
  --python-home VENV        for a WSGI script (APP.py, APP.wsgi): its virtual environment
  --python-path DIR         for a WSGI script: a directory added to sys.path (repeatable;
                            the script's own directory always is)";

/// Parses the arguments of `serve` or `setup-server`.
pub fn parse_site(items: &[String]) -> Result<SiteOptions, String> {
    let mut o = SiteOptions::default();
    let mut app = None;
    let mut daemon_sizing = false;
    let mut args = Args::new(items);
    while let Some(arg) = args.next() {
        let (name, inline) = match arg {
            Arg::Positional(p) if app.is_none() => {
                app = Some(PathBuf::from(p));
                continue;
            }
            Arg::Positional(p) => return Err(format!("unexpected argument '{p}'")),
            Arg::Option(name, inline) => (name, inline),
        };
        let n = name.as_str();
        match n {
            "--port" => o.port = args.parsed(n, inline, "a port")?,
            "--host" => o.host = args.value(n, inline)?,
            "--processes" => {
                o.processes = args.parsed(n, inline, "a number")?;
                daemon_sizing = true;
            }
            "--threads" => {
                o.threads = args.parsed(n, inline, "a number")?;
                daemon_sizing = true;
            }
            "--embedded" | "--embedded-mode" => {
                no_value(n, inline)?;
                o.embedded = true;
            }
            "--mount-point" => o.mount_point = args.value(n, inline)?,
            "--url-alias" => {
                let url = args.value(n, inline)?;
                let path = args.path(n, None)?;
                o.url_aliases.push((url, path));
            }
            "--app-config" => {
                let v = args.value(n, inline)?;
                let (key, value) = v
                    .split_once('=')
                    .filter(|(k, _)| !k.is_empty())
                    .ok_or_else(|| format!("--app-config: '{v}' is not KEY=VALUE"))?;
                o.app_config.push((key.to_owned(), value.to_owned()));
            }
            "--user" => o.user = Some(args.value(n, inline)?),
            "--group" => o.group = Some(args.value(n, inline)?),
            "--reload-on-changes" => {
                no_value(n, inline)?;
                o.reload_on_changes = true;
            }
            "--https-port" => o.https_port = Some(args.parsed(n, inline, "a port")?),
            "--ssl-cert" | "--ssl-certificate-file" => o.ssl_cert = Some(args.path(n, inline)?),
            "--ssl-key" | "--ssl-certificate-key-file" => {
                o.ssl_key = Some(args.path(n, inline)?);
            }
            "--mpm" => {
                let v = args.value(n, inline)?;
                o.mpm = v.parse().map_err(|e| format!("--mpm: {e}"))?;
            }
            "--server-root" => o.server_root = Some(args.path(n, inline)?),
            "--module" => o.module = Some(args.path(n, inline)?),
            "--include-file" => o.include_files.push(args.path(n, inline)?),
            "--log-level" => o.log_level = args.value(n, inline)?,
            "--request-timeout" => {
                o.request_timeout = Some(args.parsed(n, inline, "a number of seconds")?);
            }
            "--maximum-requests" => {
                o.maximum_requests = Some(args.parsed(n, inline, "a number")?);
            }
            "--working-directory" => o.working_directory = Some(args.path(n, inline)?),
            "--status-url" => o.status_url = Some(args.value(n, inline)?),
            "--python-home" => o.python_home = Some(args.path(n, inline)?),
            "--python-path" => o.python_path.push(args.path(n, inline)?),
            other => return Err(format!("unknown option {other}")),
        }
    }
    o.app = app
        .ok_or("the app is missing: give APP.so, a WSGI script (APP.py) or a crate's directory")?;
    if o.processes == 0 || o.threads == 0 {
        return Err("--processes and --threads must be at least 1".to_owned());
    }
    if o.embedded
        && (daemon_sizing
            || o.request_timeout.is_some()
            || o.maximum_requests.is_some()
            || o.working_directory.is_some())
    {
        return Err(
            "--processes, --threads, --request-timeout, --maximum-requests and \
             --working-directory set up the daemon group: they do not apply with --embedded"
                .to_owned(),
        );
    }
    if !o.mount_point.starts_with('/') {
        return Err(format!(
            "--mount-point: '{}' does not start with /",
            o.mount_point
        ));
    }
    if let Some(url) = &o.status_url {
        if !url.starts_with('/') {
            return Err(format!("--status-url: '{url}' does not start with /"));
        }
    }
    for (url, _) in &o.url_aliases {
        if !url.starts_with('/') {
            return Err(format!("--url-alias: '{url}' does not start with /"));
        }
    }
    match (o.https_port, &o.ssl_cert, &o.ssl_key) {
        (Some(_), Some(_), Some(_)) | (None, None, None) => {}
        (Some(_), _, _) => {
            return Err("--https-port needs --ssl-cert and --ssl-key".to_owned());
        }
        (None, _, _) => return Err("--ssl-cert and --ssl-key need --https-port".to_owned()),
    }
    if o.https_port == Some(o.port) {
        return Err("--https-port must differ from --port".to_owned());
    }
    Ok(o)
}

/// Where the app Apache serves comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppSource {
    /// A shared library given as such; `copied` when Apache serves a copy
    /// in the server root (the original is not readable by Apache's user).
    File { path: PathBuf, copied: bool },
    /// A crate, built with cargo into `built`; Apache serves a copy.
    Crate {
        dir: PathBuf,
        manifest: PathBuf,
        built: PathBuf,
    },
}

/// A server root, resolved and ready to be written.
#[derive(Clone, Debug)]
pub struct Site {
    pub options: SiteOptions,
    pub server_root: PathBuf,
    /// The file Apache serves.
    pub app: PathBuf,
    pub source: AppSource,
    pub module: PathBuf,
    /// `User` and `Group`, when started as root.
    pub user: Option<(String, String)>,
    /// The daemon process group's name.
    pub group_name: String,
    /// The daemon processes' directory.
    pub home: PathBuf,
    pub url_aliases: Vec<(String, PathBuf)>,
    pub include_files: Vec<PathBuf>,
    pub ssl: Option<(PathBuf, PathBuf)>,
    /// A WSGI script's Python home, absolute.
    pub python_home: Option<PathBuf>,
    /// A WSGI script's python-path (its directory first), absolute.
    pub python_path: Vec<PathBuf>,
}

/// The default server root: `$TMPDIR/rustgi-HOST:PORT:UID`.
pub fn default_server_root(host: &str, port: u16) -> PathBuf {
    let uid = users::effective_uid();
    std::env::temp_dir().join(format!("rustgi-{host}:{port}:{uid}"))
}

/// A daemon group name from the app's file name: `libshop.so` → `shop`
/// (letters, digits, `-`, `_` and `.`; `app` when nothing is left).
pub fn group_name_for(app: &Path) -> String {
    let stem = app
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = [".so", ".py", ".wsgi"]
        .iter()
        .find_map(|ext| stem.strip_suffix(ext))
        .unwrap_or(&stem);
    let stem = stem.strip_prefix("lib").unwrap_or(stem);
    let name: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    let name = name.trim_start_matches('.').to_owned();
    if name.is_empty() {
        "app".to_owned()
    } else {
        name
    }
}

/// Whether a user other than the owner can read `path` and reach it.
pub fn readable_by_others(path: &Path) -> bool {
    let mode = |p: &Path| fs::metadata(p).map(|m| m.permissions().mode()).unwrap_or(0);
    mode(path) & 0o004 != 0 && traversable_by_others(path.parent().unwrap_or(Path::new("/")))
}

/// Whether a user other than the owner can reach into `dir`.
pub fn traversable_by_others(dir: &Path) -> bool {
    let mode = |p: &Path| fs::metadata(p).map(|m| m.permissions().mode()).unwrap_or(0);
    dir.ancestors()
        .all(|d| d.as_os_str().is_empty() || mode(d) & 0o001 != 0)
}

/// Copies `src` to `dst` (mode 0644) through a temporary file renamed over
/// `dst`, so that a process loading `dst` sees either file whole. Returns
/// whether `dst` changed.
pub fn install_copy(src: &Path, dst: &Path) -> Result<bool, String> {
    let bytes = fs::read(src).map_err(|e| format!("reading {}: {e}", src.display()))?;
    if fs::read(dst).is_ok_and(|old| old == bytes) {
        return Ok(false);
    }
    let name = dst.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dst.with_file_name(format!(".{name}.rustgi-tmp"));
    fs::write(&tmp, &bytes)
        .and_then(|()| fs::set_permissions(&tmp, fs::Permissions::from_mode(0o644)))
        .and_then(|()| fs::rename(&tmp, dst))
        .map_err(|e| {
            let _ = fs::remove_file(&tmp);
            format!("writing {}: {e}", dst.display())
        })?;
    Ok(true)
}

fn absolute(path: &Path, what: &str) -> Result<PathBuf, String> {
    path.canonicalize()
        .map_err(|e| format!("{what} {}: {e}", path.display()))
}

/// `User`/`Group` for Apache's children (and so the daemons): given ones,
/// or nobody/nogroup, when running as root; none otherwise.
fn resolve_user(o: &SiteOptions) -> Result<Option<(String, String)>, String> {
    if !is_root() {
        if o.user.is_some() || o.group.is_some() {
            eprintln!(
                "rustgi: not running as root: --user and --group are ignored \
                 (Apache and the app run as you)"
            );
        }
        return Ok(None);
    }
    let user = o.user.clone().unwrap_or_else(|| "nobody".to_owned());
    let account = users::user_by_name(&user).ok_or_else(|| format!("--user: no user '{user}'"))?;
    if account.uid == 0 {
        return Err("--user: Apache's children and the app must not run as root".to_owned());
    }
    let group = match (&o.group, &o.user) {
        (Some(g), _) => g.clone(),
        (None, Some(_)) => users::group_name(account.gid)
            .ok_or_else(|| format!("--user: {user}'s group {} has no name", account.gid))?,
        (None, None) => "nogroup".to_owned(),
    };
    if users::gid_by_name(&group).is_none() {
        return Err(format!("--group: no group '{group}'"));
    }
    Ok(Some((user, group)))
}

impl Site {
    /// Resolves `options`: builds the app when it is a crate, finds the
    /// module, creates the server root and, when needed, copies the app
    /// into it.
    pub fn prepare(options: SiteOptions) -> Result<Site, String> {
        let module = find_module(options.module.as_deref())?;
        if !options.embedded && daemon_beside(&module).is_none() {
            return Err(format!(
                "rustgi-daemon is not beside {} (daemon mode needs it; \
                 build the workspace or use --embedded)",
                module.display()
            ));
        }
        let user = resolve_user(&options)?;
        let server_root = options
            .server_root
            .clone()
            .unwrap_or_else(|| default_server_root(&options.host, options.port));
        fs::create_dir_all(&server_root)
            .map_err(|e| format!("cannot create {}: {e}", server_root.display()))?;
        let server_root = absolute(&server_root, "--server-root")?;
        if user.is_some() {
            // Apache's children run as another user: they must reach it.
            fs::set_permissions(&server_root, fs::Permissions::from_mode(0o755))
                .map_err(|e| format!("{}: {e}", server_root.display()))?;
            if !traversable_by_others(&server_root) {
                eprintln!(
                    "rustgi: warning: a directory above {} is closed to other users; \
                     Apache's children may not reach the server root",
                    server_root.display()
                );
            }
        }

        let app_dir = server_root.join("app");
        let copy_into_root = |src: &Path| -> Result<PathBuf, String> {
            fs::create_dir_all(&app_dir)
                .and_then(|()| fs::set_permissions(&app_dir, fs::Permissions::from_mode(0o755)))
                .map_err(|e| format!("{}: {e}", app_dir.display()))?;
            let dst = app_dir.join(src.file_name().unwrap_or_default());
            install_copy(src, &dst)?;
            Ok(dst)
        };
        let (app, source) = if cargo::is_crate_dir(&options.app) {
            let dir = absolute(&options.app, "the crate")?;
            let manifest = cargo::manifest_of(&dir)?;
            let built = cargo::build(&dir)?;
            let served = copy_into_root(&built)?;
            (
                served,
                AppSource::Crate {
                    dir,
                    manifest,
                    built,
                },
            )
        } else if is_wsgi_script(&options.app) {
            // Served where it is: its directory holds what it imports.
            let path = absolute(&options.app, "the script")?;
            if !path.is_file() {
                return Err(format!("the script {} does not exist", path.display()));
            }
            if user.is_some() && !readable_by_others(&path) {
                eprintln!(
                    "rustgi: warning: {} is not readable by other users; the daemon \
                     processes (user nobody) may not import it",
                    path.display()
                );
            }
            (
                path.clone(),
                AppSource::File {
                    path,
                    copied: false,
                },
            )
        } else if options.app.is_dir() {
            return Err(format!(
                "{} is a directory without a Cargo.toml: give APP.so or a crate's directory",
                options.app.display()
            ));
        } else {
            let path = absolute(&options.app, "the app")?;
            if user.is_some() && !readable_by_others(&path) {
                let copy = copy_into_root(&path)?;
                eprintln!(
                    "rustgi: {} is not readable by other users; serving a copy from {}",
                    path.display(),
                    copy.display()
                );
                (copy, AppSource::File { path, copied: true })
            } else {
                (
                    path.clone(),
                    AppSource::File {
                        path,
                        copied: false,
                    },
                )
            }
        };

        let mut url_aliases = Vec::new();
        for (url, path) in &options.url_aliases {
            url_aliases.push((url.clone(), absolute(path, "--url-alias")?));
        }
        let mut include_files = Vec::new();
        for path in &options.include_files {
            include_files.push(absolute(path, "--include-file")?);
        }
        let ssl = match (&options.ssl_cert, &options.ssl_key) {
            (Some(cert), Some(key)) => {
                Some((absolute(cert, "--ssl-cert")?, absolute(key, "--ssl-key")?))
            }
            _ => None,
        };
        let home = match &options.working_directory {
            Some(dir) => absolute(dir, "--working-directory")?,
            None => server_root.clone(),
        };
        let mut python_path = Vec::new();
        if is_wsgi_script(&app) {
            // As python's own `python app.py` would: the script's directory
            // first.
            python_path.extend(app.parent().map(Path::to_path_buf));
        }
        for dir in &options.python_path {
            python_path.push(absolute(dir, "--python-path")?);
        }
        let python_home = match &options.python_home {
            Some(dir) => Some(absolute(dir, "--python-home")?),
            None => None,
        };
        Ok(Site {
            group_name: group_name_for(&app),
            options,
            server_root,
            app,
            source,
            module,
            user,
            home,
            url_aliases,
            include_files,
            ssl,
            python_home,
            python_path,
        })
    }

    /// `ROOT/httpd.conf`.
    pub fn config_path(&self) -> PathBuf {
        self.server_root.join("httpd.conf")
    }

    /// `ROOT/apachectl`.
    pub fn apachectl_path(&self) -> PathBuf {
        self.server_root.join("apachectl")
    }

    /// The directory of the daemon group's socket: `ROOT/rustgi`.
    pub fn socket_dir(&self) -> PathBuf {
        self.server_root.join("rustgi")
    }

    /// The host to put in URLs: the loopback address for "all addresses".
    fn url_host(&self) -> &str {
        match self.options.host.as_str() {
            "0.0.0.0" | "*" => "127.0.0.1",
            "::" => "::1",
            h => h,
        }
    }

    /// The URL the app answers at (HTTP).
    pub fn url(&self) -> String {
        format!(
            "http://{}{}",
            host_port(self.url_host(), self.options.port),
            self.options.mount_point
        )
    }

    /// The URL the app answers at over HTTPS, with `--https-port`.
    pub fn https_url(&self) -> Option<String> {
        let port = self.options.https_port?;
        Some(format!(
            "https://{}{}",
            host_port(self.url_host(), port),
            self.options.mount_point
        ))
    }

    /// The configuration. With `terminal_logs`, the error log goes to
    /// stderr and the access log to stdout (`serve`); otherwise both are
    /// files in the server root (`setup-server`).
    pub fn httpd_conf(&self, terminal_logs: bool) -> HttpdConf {
        let o = &self.options;
        let mut conf = HttpdConf::new(&self.server_root, o.port)
            .listen_host(&o.host)
            .mpm(o.mpm)
            .log_level(&o.log_level)
            .access_log(!terminal_logs)
            .rustgi_module(&self.module)
            .user(self.user.clone());
        if self.ssl.is_some() {
            conf = conf.module("socache_shmcb").module("ssl").module("http2");
        }
        conf.extra(self.extra_config(terminal_logs))
    }

    /// The part of httpd.conf about the app, its static files, HTTPS and
    /// the included files.
    pub fn extra_config(&self, terminal_logs: bool) -> String {
        let o = &self.options;
        let mut c = String::new();
        // Writing into a String cannot fail: the results are ignored.
        macro_rules! line {
            ($($arg:tt)*) => {{ let _ = writeln!(c, $($arg)*); }};
        }
        if terminal_logs {
            line!("ErrorLog /dev/stderr");
            line!(r#"CustomLog /dev/stdout "%h %l %u %t \"%r\" %>s %b %D""#);
        }
        let app_dir = self.app.parent().unwrap_or(Path::new("/"));
        line!("# The app: {}", self.app.display());
        line!("<Directory {}>", quote_path(app_dir));
        line!("    Require all granted");
        line!("</Directory>");
        let reloading = if o.reload_on_changes { "On" } else { "Off" };
        line!("RustgiScriptReloading {reloading}");
        for (key, value) in &o.app_config {
            line!("RustgiAppConfig {} {}", quote(key), quote(value));
        }
        let python_path = self
            .python_path
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(":");
        if o.embedded {
            if let Some(home) = &self.python_home {
                line!("RustgiPythonHome {}", quote_path(home));
            }
            if !python_path.is_empty() {
                line!("RustgiPythonPath {}", quote(&python_path));
            }
            line!(
                "RustgiScriptAlias {} {}",
                quote(&o.mount_point),
                quote_path(&self.app)
            );
        } else {
            line!("RustgiSocketPrefix {}", quote_path(&self.socket_dir()));
            line!("RustgiRestrictEmbedded On");
            let mut group = format!(
                "RustgiDaemonProcess {name} processes={} threads={} {} display-name=%{{GROUP}}",
                o.processes,
                o.threads,
                quote(&format!("home={}", self.home.to_string_lossy())),
                name = self.group_name,
            );
            if let Some(t) = o.request_timeout {
                let _ = write!(group, " request-timeout={t}");
            }
            if let Some(n) = o.maximum_requests {
                let _ = write!(group, " maximum-requests={n}");
            }
            if let Some(home) = &self.python_home {
                let _ = write!(
                    group,
                    " {}",
                    quote(&format!("python-home={}", home.to_string_lossy()))
                );
            }
            if !python_path.is_empty() {
                let _ = write!(group, " {}", quote(&format!("python-path={python_path}")));
            }
            line!("{group}");
            line!(
                "RustgiScriptAlias {} {} process-group={}",
                quote(&o.mount_point),
                quote_path(&self.app),
                self.group_name
            );
        }
        if let Some(url) = &o.status_url {
            line!();
            line!("# The status page (rustgi status), for local clients");
            line!("<Location {}>", quote(url));
            line!("    SetHandler rustgi-status");
            line!("    Require local");
            line!("</Location>");
        }
        if !self.url_aliases.is_empty() {
            line!();
            line!("# Static files, served by Apache");
        }
        for (url, path) in &self.url_aliases {
            line!("Alias {} {}", quote(url), quote_path(path));
            if path.is_dir() {
                line!("<Directory {}>", quote_path(path));
                line!("    Require all granted");
                line!("</Directory>");
            } else {
                let dir = path.parent().unwrap_or(Path::new("/"));
                let name = path.file_name().unwrap_or_default().to_string_lossy();
                line!("<Directory {}>", quote_path(dir));
                line!("    <Files {}>", quote(&name));
                line!("        Require all granted");
                line!("    </Files>");
                line!("</Directory>");
            }
        }
        if let (Some(port), Some((cert, key))) = (o.https_port, &self.ssl) {
            line!();
            line!("# HTTPS and HTTP/2");
            line!("Listen {}", host_port(&o.host, port));
            line!(
                "SSLSessionCache {}",
                quote(&format!(
                    "shmcb:{}(512000)",
                    self.server_root.join("ssl_scache").to_string_lossy()
                ))
            );
            line!("<VirtualHost *:{port}>");
            line!("    ServerName {}", host_port(&o.host, port));
            line!("    SSLEngine on");
            line!("    SSLCertificateFile {}", quote_path(cert));
            line!("    SSLCertificateKeyFile {}", quote_path(key));
            line!("    Protocols h2 http/1.1");
            // A Rustgi directive of its own makes Apache merge the main
            // server's mod_rustgi settings into this host instead of
            // sharing them (the host inherits the app's alias).
            line!("    RustgiScriptReloading {reloading}");
            line!("</VirtualHost>");
        }
        if !self.include_files.is_empty() {
            line!();
        }
        for file in &self.include_files {
            line!("Include {}", quote_path(file));
        }
        c
    }

    /// The `apachectl` script of the server root.
    pub fn apachectl_script(&self) -> String {
        apachectl_script(apache_binary(), &self.config_path())
    }

    /// Writes httpd.conf and apachectl into the server root; returns the
    /// configuration's path.
    pub fn write(&self, terminal_logs: bool) -> Result<PathBuf, String> {
        let conf = self.httpd_conf(terminal_logs);
        let path = conf
            .write()
            .map_err(|e| format!("cannot write {}: {e}", conf.config_path().display()))?;
        let ctl = self.apachectl_path();
        fs::write(&ctl, self.apachectl_script())
            .and_then(|()| fs::set_permissions(&ctl, fs::Permissions::from_mode(0o755)))
            .map_err(|e| format!("cannot write {}: {e}", ctl.display()))?;
        Ok(path)
    }
}

/// Quotes `s` for a POSIX shell.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// An `apachectl` for the configuration `conf`: `start`, `stop`,
/// `restart`, `graceful`, `graceful-stop` run `HTTPD -f CONF -k ACTION`,
/// `configtest` runs `HTTPD -f CONF -t`, `foreground` runs Apache in the
/// foreground.
pub fn apachectl_script(httpd: &Path, conf: &Path) -> String {
    format!(
        "#!/bin/sh\n\
         # Written by rustgi: controls the Apache that runs {conf_display}.\n\
         HTTPD={httpd}\n\
         CONF={conf}\n\
         case \"$1\" in\n\
         start|stop|restart|graceful|graceful-stop)\n    \
             exec \"$HTTPD\" -f \"$CONF\" -k \"$@\" ;;\n\
         configtest|-t)\n    \
             exec \"$HTTPD\" -f \"$CONF\" -t ;;\n\
         foreground)\n    \
             shift\n    \
             exec \"$HTTPD\" -f \"$CONF\" -DFOREGROUND \"$@\" ;;\n\
         *)\n    \
             echo \"usage: $0 start|stop|restart|graceful|graceful-stop|configtest|foreground\" >&2\n    \
             exit 2 ;;\n\
         esac\n",
        conf_display = conf.display(),
        httpd = shell_quote(&httpd.to_string_lossy()),
        conf = shell_quote(&conf.to_string_lossy()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn defaults() {
        let o = parse_site(&args(&["app.so"])).unwrap();
        assert_eq!(o.app, PathBuf::from("app.so"));
        assert_eq!(o.port, 8000);
        assert_eq!(o.host, "127.0.0.1");
        assert_eq!((o.processes, o.threads), (1, 5));
        assert!(!o.embedded && !o.reload_on_changes);
        assert_eq!(o.mount_point, "/");
        assert_eq!(o.mpm, Mpm::Event);
    }

    #[test]
    fn every_option() {
        let o = parse_site(&args(&[
            "--port=9000",
            "--host",
            "0.0.0.0",
            "--processes",
            "2",
            "--threads",
            "3",
            "--mount-point",
            "/app",
            "--url-alias",
            "/static",
            "/srv/static",
            "--app-config",
            "a=b=c",
            "--user",
            "www-data",
            "--group",
            "www-data",
            "--reload-on-changes",
            "--https-port",
            "9443",
            "--ssl-cert",
            "c.pem",
            "--ssl-key",
            "k.pem",
            "--mpm",
            "worker",
            "--server-root",
            "/tmp/r",
            "--module",
            "/m.so",
            "--include-file",
            "x.conf",
            "--log-level",
            "debug",
            "--request-timeout",
            "30",
            "--maximum-requests",
            "1000",
            "--working-directory",
            "/srv",
            "--status-url",
            "/status",
            "crate/",
        ]))
        .unwrap();
        assert_eq!(o.app, PathBuf::from("crate/"));
        assert_eq!(o.port, 9000);
        assert_eq!(o.host, "0.0.0.0");
        assert_eq!((o.processes, o.threads), (2, 3));
        assert_eq!(o.mount_point, "/app");
        assert_eq!(
            o.url_aliases,
            vec![("/static".to_owned(), PathBuf::from("/srv/static"))]
        );
        assert_eq!(o.app_config, vec![("a".to_owned(), "b=c".to_owned())]);
        assert_eq!(o.user.as_deref(), Some("www-data"));
        assert_eq!(o.group.as_deref(), Some("www-data"));
        assert!(o.reload_on_changes);
        assert_eq!(o.https_port, Some(9443));
        assert_eq!(o.ssl_cert, Some(PathBuf::from("c.pem")));
        assert_eq!(o.ssl_key, Some(PathBuf::from("k.pem")));
        assert_eq!(o.mpm, Mpm::Worker);
        assert_eq!(o.server_root, Some(PathBuf::from("/tmp/r")));
        assert_eq!(o.module, Some(PathBuf::from("/m.so")));
        assert_eq!(o.include_files, vec![PathBuf::from("x.conf")]);
        assert_eq!(o.log_level, "debug");
        assert_eq!(o.request_timeout, Some(30));
        assert_eq!(o.maximum_requests, Some(1000));
        assert_eq!(o.working_directory, Some(PathBuf::from("/srv")));
        assert_eq!(o.status_url.as_deref(), Some("/status"));
    }

    #[test]
    fn errors() {
        let err = |list: &[&str]| parse_site(&args(list)).unwrap_err();
        assert!(err(&[]).contains("app is missing"));
        assert!(err(&["a.so", "--port", "x"]).contains("--port"));
        assert!(err(&["a.so", "--port", "70000"]).contains("--port"));
        assert!(err(&["a.so", "--bogus"]).contains("--bogus"));
        assert!(err(&["a.so", "b.so"]).contains("b.so"));
        assert!(err(&["a.so", "--app-config", "novalue"]).contains("KEY=VALUE"));
        assert!(err(&["a.so", "--app-config", "=v"]).contains("KEY=VALUE"));
        assert!(err(&["a.so", "--processes", "0"]).contains("at least 1"));
        assert!(err(&["a.so", "--embedded", "--threads", "4"]).contains("--embedded"));
        assert!(err(&["a.so", "--embedded=1"]).contains("no value"));
        assert!(err(&["a.so", "--mount-point", "app"]).contains("/"));
        assert!(err(&["a.so", "--url-alias", "s", "/d"]).contains("--url-alias"));
        assert!(err(&["a.so", "--url-alias", "/s"]).contains("needs a value"));
        assert!(err(&["a.so", "--https-port", "8443"]).contains("--ssl-cert"));
        assert!(err(&["a.so", "--ssl-cert", "c"]).contains("--https-port"));
        assert!(
            err(&[
                "a.so",
                "--https-port",
                "8000",
                "--ssl-cert",
                "c",
                "--ssl-key",
                "k"
            ])
            .contains("differ")
        );
        assert!(err(&["a.so", "--mpm", "threads"]).contains("--mpm"));
        assert!(err(&["a.so", "--status-url", "s"]).contains("--status-url"));
    }

    #[test]
    fn group_names() {
        assert_eq!(group_name_for(Path::new("/x/libshop.so")), "shop");
        assert_eq!(group_name_for(Path::new("/x/wsgi.py")), "wsgi");
        assert_eq!(group_name_for(Path::new("/x/shop.wsgi")), "shop");
        assert_eq!(group_name_for(Path::new("/x/my app.so")), "my_app");
        assert_eq!(group_name_for(Path::new("/x/lib.so")), "app");
        assert_eq!(group_name_for(Path::new("/x/.hidden")), "hidden");
    }

    fn site(options: SiteOptions) -> Site {
        Site {
            server_root: PathBuf::from("/srv/root"),
            app: PathBuf::from("/srv/app/libshop.so"),
            source: AppSource::File {
                path: PathBuf::from("/srv/app/libshop.so"),
                copied: false,
            },
            module: PathBuf::from("/m/libmod_rustgi.so"),
            user: Some(("nobody".into(), "nogroup".into())),
            group_name: "shop".into(),
            home: PathBuf::from("/srv/root"),
            url_aliases: options.url_aliases.clone(),
            include_files: options.include_files.clone(),
            ssl: options.ssl_cert.clone().zip(options.ssl_key.clone()),
            python_home: options.python_home.clone(),
            python_path: options.python_path.clone(),
            options,
        }
    }

    fn lines(text: &str) -> Vec<&str> {
        text.lines().map(str::trim).collect()
    }

    #[test]
    fn daemon_mode_config() {
        let s = site(SiteOptions {
            app_config: vec![("db".into(), "x y".into())],
            request_timeout: Some(30),
            status_url: Some("/rustgi-status".into()),
            ..SiteOptions::default()
        });
        let text = s.httpd_conf(true).render();
        let l = lines(&text);
        for want in [
            "Listen 127.0.0.1:8000",
            "LoadModule rustgi_module \"/m/libmod_rustgi.so\"",
            "LogLevel info",
            "User nobody",
            "ErrorLog /dev/stderr",
            "<Directory \"/srv/app\">",
            "RustgiScriptReloading Off",
            "RustgiSocketPrefix \"/srv/root/rustgi\"",
            "RustgiRestrictEmbedded On",
            "RustgiDaemonProcess shop processes=1 threads=5 \"home=/srv/root\" \
             display-name=%{GROUP} request-timeout=30",
            "RustgiScriptAlias \"/\" \"/srv/app/libshop.so\" process-group=shop",
            "RustgiAppConfig \"db\" \"x y\"",
            "<Location \"/rustgi-status\">",
            "SetHandler rustgi-status",
            "Require local",
        ] {
            assert!(l.contains(&want), "missing {want:?} in\n{text}");
        }
        assert!(!text.contains("access_log"), "{text}");
        assert!(!text.contains("SSL"), "{text}");
        // The terminal's error log overrides the file's: it comes later.
        assert!(text.find("ErrorLog /dev/stderr") > text.find("ErrorLog \"/srv/root/error_log\""));
        // Files: the access log is a file, the error log too.
        let files = s.httpd_conf(false).render();
        assert!(files.contains("CustomLog \"/srv/root/access_log\""));
        assert!(!files.contains("/dev/stderr"));
    }

    #[test]
    fn embedded_mode_config() {
        let s = site(SiteOptions {
            embedded: true,
            reload_on_changes: true,
            mount_point: "/shop".into(),
            mpm: Mpm::Prefork,
            ..SiteOptions::default()
        });
        let text = s.httpd_conf(true).render();
        let l = lines(&text);
        assert!(l.contains(&"RustgiScriptAlias \"/shop\" \"/srv/app/libshop.so\""));
        assert!(l.contains(&"RustgiScriptReloading On"));
        assert!(text.contains("mod_mpm_prefork.so"));
        assert!(!text.contains("RustgiDaemonProcess"));
        assert!(!text.contains("RustgiRestrictEmbedded"));
    }

    #[test]
    fn https_aliases_and_includes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("favicon.ico");
        fs::write(&file, "x").unwrap();
        let s = site(SiteOptions {
            https_port: Some(8443),
            ssl_cert: Some("/c/cert.pem".into()),
            ssl_key: Some("/c/key.pem".into()),
            url_aliases: vec![
                ("/static".into(), dir.path().to_path_buf()),
                ("/favicon.ico".into(), file.clone()),
            ],
            include_files: vec!["/etc/extra.conf".into()],
            ..SiteOptions::default()
        });
        let text = s.httpd_conf(true).render();
        let l = lines(&text);
        let d = dir.path().display();
        for module in ["ssl_module", "http2_module", "socache_shmcb_module"] {
            assert!(text.contains(&format!("LoadModule {module} ")), "{text}");
        }
        for want in [
            format!("Alias \"/static\" \"{d}\""),
            format!("<Directory \"{d}\">"),
            format!("Alias \"/favicon.ico\" \"{d}/favicon.ico\""),
            "<Files \"favicon.ico\">".to_owned(),
            "Listen 127.0.0.1:8443".to_owned(),
            "SSLSessionCache \"shmcb:/srv/root/ssl_scache(512000)\"".to_owned(),
            "<VirtualHost *:8443>".to_owned(),
            "SSLEngine on".to_owned(),
            "SSLCertificateFile \"/c/cert.pem\"".to_owned(),
            "SSLCertificateKeyFile \"/c/key.pem\"".to_owned(),
            "Protocols h2 http/1.1".to_owned(),
            "Include \"/etc/extra.conf\"".to_owned(),
        ] {
            assert!(l.contains(&want.as_str()), "missing {want:?} in\n{text}");
        }
        assert!(text.ends_with("Include \"/etc/extra.conf\"\n"));
    }

    #[test]
    fn urls() {
        let mut s = site(SiteOptions::default());
        assert_eq!(s.url(), "http://127.0.0.1:8000/");
        s.options.host = "0.0.0.0".into();
        s.options.mount_point = "/app".into();
        assert_eq!(s.url(), "http://127.0.0.1:8000/app");
        s.options.host = "::1".into();
        assert_eq!(s.url(), "http://[::1]:8000/app");
        assert_eq!(s.https_url(), None);
        s.options.https_port = Some(8443);
        assert_eq!(s.https_url().unwrap(), "https://[::1]:8443/app");
    }

    #[test]
    fn apachectl() {
        let text = apachectl_script(Path::new("/usr/sbin/apache2"), Path::new("/r/it's.conf"));
        assert!(text.starts_with("#!/bin/sh\n"));
        assert!(text.contains("HTTPD='/usr/sbin/apache2'\n"));
        assert!(text.contains(r"CONF='/r/it'\''s.conf'"));
        assert!(text.contains(r#"exec "$HTTPD" -f "$CONF" -k "$@""#));
    }

    #[test]
    fn copies_replace_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("a");
        let dst = dir.path().join("b");
        fs::write(&src, "one").unwrap();
        assert!(install_copy(&src, &dst).unwrap());
        assert!(!install_copy(&src, &dst).unwrap());
        fs::write(&src, "two").unwrap();
        assert!(install_copy(&src, &dst).unwrap());
        assert_eq!(fs::read_to_string(&dst).unwrap(), "two");
        let mode = fs::metadata(&dst).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn readability() {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).unwrap();
        let f = dir.path().join("f");
        fs::write(&f, "x").unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(!readable_by_others(&f));
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(readable_by_others(&f), traversable_by_others(dir.path()));
    }
}
