//! A builder for a complete, standalone `httpd.conf`.
//!
//! The configuration it writes needs nothing from the distribution's
//! `/etc/apache2`: every path is absolute, every module it uses is loaded
//! with its own `LoadModule` line, and all the files Apache writes (pid file,
//! logs, runtime files) live in the server root.
//!
//! ```
//! use rustgi::httpd_conf::{HttpdConf, Mpm};
//!
//! let conf = HttpdConf::new("/tmp/site", 8080)
//!     .mpm(Mpm::Worker)
//!     .rustgi_module("/opt/rustgi/libmod_rustgi.so")
//!     .extra("RustgiScriptAlias / /srv/app/libapp.so");
//! let text = conf.render();
//! assert!(text.contains("Listen 127.0.0.1:8080"));
//! assert!(text.contains("LoadModule rustgi_module \"/opt/rustgi/libmod_rustgi.so\""));
//! ```
//!
//! The text is laid out in this order: server basics (`ServerRoot`, `Listen`,
//! `ServerName`, `PidFile`, `DefaultRuntimeDir`, logs), `LoadModule` for the
//! MPM, the other modules and mod_rustgi, the MPM tuning, `User`/`Group`,
//! the deny-everything `<Directory />`, and last the free-form extra text, so
//! the extra text can override anything before it.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::sync::OnceLock;

/// The modules loaded by default, in load order (`authn_core` and
/// `authz_core` come before the providers that register with them).
pub const DEFAULT_MODULES: &[&str] = &[
    "authn_core",
    "authz_core",
    "authz_host",
    "authn_file",
    "auth_basic",
    "authz_user",
    "alias",
    "mime",
    "env",
    "setenvif",
    "headers",
    "filter",
    "deflate",
    "unique_id",
];

/// The log level by default: `info` for Apache, `debug` for mod_rustgi.
pub const DEFAULT_LOG_LEVEL: &str = "info rustgi:debug";

/// Where Debian's Apache keeps its modules; used when `apxs` is not there.
pub const FALLBACK_MODULES_DIR: &str = "/usr/lib/apache2/modules";

/// Apache's multi-processing module.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Mpm {
    /// `mpm_event`: threads, keep-alive connections handed to a listener thread.
    #[default]
    Event,
    /// `mpm_worker`: threads, one per connection.
    Worker,
    /// `mpm_prefork`: one single-threaded process per connection.
    Prefork,
}

impl Mpm {
    /// Every MPM, in a fixed order.
    pub const ALL: [Mpm; 3] = [Mpm::Event, Mpm::Worker, Mpm::Prefork];

    /// The short name: `event`, `worker` or `prefork`.
    pub fn name(self) -> &'static str {
        match self {
            Mpm::Event => "event",
            Mpm::Worker => "worker",
            Mpm::Prefork => "prefork",
        }
    }

    /// The module name as used in [`HttpdConf::module`]: `mpm_event`, ...
    pub fn module_name(self) -> &'static str {
        match self {
            Mpm::Event => "mpm_event",
            Mpm::Worker => "mpm_worker",
            Mpm::Prefork => "mpm_prefork",
        }
    }

    /// Process and thread counts suited to a small (2-core) machine.
    ///
    /// The threaded MPMs start one process of 16 threads and may grow to
    /// four; prefork starts two processes and may grow to sixteen.
    pub fn tuning(self) -> &'static str {
        match self {
            Mpm::Event | Mpm::Worker => {
                "StartServers 1\n\
                 ServerLimit 4\n\
                 ThreadLimit 16\n\
                 ThreadsPerChild 16\n\
                 MinSpareThreads 8\n\
                 MaxSpareThreads 32\n\
                 MaxRequestWorkers 64\n\
                 MaxConnectionsPerChild 0\n"
            }
            Mpm::Prefork => {
                "StartServers 2\n\
                 MinSpareServers 2\n\
                 MaxSpareServers 6\n\
                 ServerLimit 16\n\
                 MaxRequestWorkers 16\n\
                 MaxConnectionsPerChild 0\n"
            }
        }
    }
}

impl std::fmt::Display for Mpm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Mpm {
    type Err = String;

    /// Parses `event`, `worker` or `prefork` (also with an `mpm_` prefix).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let s = s.strip_prefix("mpm_").unwrap_or(s);
        match s.to_ascii_lowercase().as_str() {
            "event" => Ok(Mpm::Event),
            "worker" => Ok(Mpm::Worker),
            "prefork" => Ok(Mpm::Prefork),
            _ => Err(format!(
                "unknown MPM `{s}`: expected event, worker or prefork"
            )),
        }
    }
}

/// The directory that holds Apache's modules: what `apxs -q LIBEXECDIR`
/// prints, or [`FALLBACK_MODULES_DIR`]. Asked once per process.
pub fn modules_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        apxs_query("LIBEXECDIR")
            .map(PathBuf::from)
            .filter(|p| p.is_dir())
            .unwrap_or_else(|| PathBuf::from(FALLBACK_MODULES_DIR))
    })
}

/// Runs `apxs -q NAME` and returns its trimmed output, if it printed any.
pub fn apxs_query(name: &str) -> Option<String> {
    let out = Command::new("apxs").arg("-q").arg(name).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// `User nobody` / `Group nogroup` when this process runs as root (Apache
/// refuses to run its children as root), nothing otherwise.
pub fn default_user() -> Option<(String, String)> {
    rustgi_host::users::is_root().then(|| ("nobody".to_owned(), "nogroup".to_owned()))
}

/// `HOST:PORT` as `Listen` and `ServerName` take it: an IPv6 address is
/// put in brackets (`[::1]:8000`).
pub fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Quotes `s` as one argument of an httpd.conf directive: wraps it in double
/// quotes and escapes the double quotes inside (Apache unescapes only `\"`).
pub fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\\\""))
}

/// [`quote`] for a path. The path must be valid UTF-8 to be written exactly;
/// other bytes are replaced (lossy), as httpd.conf is text.
pub fn quote_path(p: &Path) -> String {
    quote(&p.to_string_lossy())
}

/// A standalone httpd.conf. See the [module documentation](self).
#[derive(Clone, Debug)]
pub struct HttpdConf {
    server_root: PathBuf,
    listen_host: String,
    port: u16,
    mpm: Mpm,
    log_level: String,
    modules_dir: PathBuf,
    modules: Vec<String>,
    rustgi_module: Option<PathBuf>,
    user: Option<(String, String)>,
    access_log: bool,
    extra: String,
}

impl HttpdConf {
    /// A configuration whose files live in `server_root`, listening on
    /// `127.0.0.1:port`, with the event MPM, [`DEFAULT_MODULES`],
    /// [`DEFAULT_LOG_LEVEL`], an access log, [`default_user`] and no
    /// mod_rustgi (see [`HttpdConf::rustgi_module`]).
    pub fn new(server_root: impl Into<PathBuf>, port: u16) -> Self {
        HttpdConf {
            server_root: server_root.into(),
            listen_host: "127.0.0.1".to_owned(),
            port,
            mpm: Mpm::default(),
            log_level: DEFAULT_LOG_LEVEL.to_owned(),
            modules_dir: modules_dir().to_path_buf(),
            modules: DEFAULT_MODULES.iter().map(|m| (*m).to_owned()).collect(),
            rustgi_module: None,
            user: default_user(),
            access_log: true,
            extra: String::new(),
        }
    }

    /// Sets the port of `Listen` and `ServerName`.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Sets the address of `Listen` and `ServerName` (default `127.0.0.1`).
    pub fn listen_host(mut self, host: impl Into<String>) -> Self {
        self.listen_host = host.into();
        self
    }

    /// Chooses the MPM (default [`Mpm::Event`]).
    pub fn mpm(mut self, mpm: Mpm) -> Self {
        self.mpm = mpm;
        self
    }

    /// Sets the `LogLevel` arguments (default [`DEFAULT_LOG_LEVEL`]).
    pub fn log_level(mut self, level: impl Into<String>) -> Self {
        self.log_level = level.into();
        self
    }

    /// Sets the directory the `LoadModule` paths point into (default
    /// [`modules_dir`]).
    pub fn modules_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.modules_dir = dir.into();
        self
    }

    /// Loads one more module, by short name (`rewrite` loads
    /// `rewrite_module` from `mod_rewrite.so`). Loading one twice is a no-op.
    pub fn module(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        if !self.modules.contains(&name) {
            self.modules.push(name);
        }
        self
    }

    /// Does not load the module `name` after all.
    pub fn without_module(mut self, name: &str) -> Self {
        self.modules.retain(|m| m != name);
        self
    }

    /// Loads mod_rustgi (`rustgi_module`) from `path`.
    pub fn rustgi_module(mut self, path: impl Into<PathBuf>) -> Self {
        self.rustgi_module = Some(path.into());
        self
    }

    /// Sets the `User` and `Group` of Apache's children; `None` writes
    /// neither (Apache then keeps the user it was started as, which it
    /// refuses when that is root). Default: [`default_user`].
    pub fn user(mut self, user_group: Option<(String, String)>) -> Self {
        self.user = user_group;
        self
    }

    /// Writes an access log (`access_log` in the server root; default on).
    pub fn access_log(mut self, on: bool) -> Self {
        self.access_log = on;
        self
    }

    /// Appends free-form configuration text after everything else (a
    /// newline is added when missing). May be called several times.
    pub fn extra(mut self, text: impl AsRef<str>) -> Self {
        let text = text.as_ref();
        self.extra.push_str(text);
        if !text.ends_with('\n') {
            self.extra.push('\n');
        }
        self
    }

    /// The server root.
    pub fn server_root(&self) -> &Path {
        &self.server_root
    }

    /// The port Apache listens on.
    pub fn get_port(&self) -> u16 {
        self.port
    }

    /// The address Apache listens on.
    pub fn get_listen_host(&self) -> &str {
        &self.listen_host
    }

    /// The MPM.
    pub fn get_mpm(&self) -> Mpm {
        self.mpm
    }

    /// The modules loaded, by short name, without the MPM and mod_rustgi.
    pub fn modules(&self) -> &[String] {
        &self.modules
    }

    /// Where [`HttpdConf::write`] puts the file: `<root>/httpd.conf`.
    pub fn config_path(&self) -> PathBuf {
        self.server_root.join("httpd.conf")
    }

    /// `<root>/error_log`.
    pub fn error_log_path(&self) -> PathBuf {
        self.server_root.join("error_log")
    }

    /// `<root>/access_log` (written only when [`HttpdConf::access_log`] is on).
    pub fn access_log_path(&self) -> PathBuf {
        self.server_root.join("access_log")
    }

    /// `<root>/httpd.pid`.
    pub fn pid_file_path(&self) -> PathBuf {
        self.server_root.join("httpd.pid")
    }

    /// The path of a module's shared object, by short name:
    /// `<modules dir>/mod_<name>.so`.
    pub fn module_path(&self, name: &str) -> PathBuf {
        self.modules_dir.join(format!("mod_{name}.so"))
    }

    /// The `LogLevel` arguments written: [`HttpdConf::log_level`]'s, less
    /// the `rustgi:LEVEL` words when mod_rustgi is not loaded (Apache
    /// rejects a level for a module it does not know).
    pub fn effective_log_level(&self) -> String {
        if self.rustgi_module.is_some() {
            return self.log_level.clone();
        }
        let words: Vec<&str> = self
            .log_level
            .split_whitespace()
            .filter(|w| !w.starts_with("rustgi:"))
            .collect();
        if words.is_empty() {
            "info".to_owned()
        } else {
            words.join(" ")
        }
    }

    /// The complete configuration text.
    pub fn render(&self) -> String {
        let mut c = String::new();
        // Writing into a String cannot fail: the results are ignored.
        macro_rules! line {
            ($($arg:tt)*) => {{ let _ = writeln!(c, $($arg)*); }};
        }
        let root = quote_path(&self.server_root);
        let load = |name: &str| {
            format!(
                "LoadModule {name}_module {}",
                quote_path(&self.module_path(name))
            )
        };

        line!("# Written by rustgi (rustgi::httpd_conf); needs nothing from /etc/apache2.");
        line!("ServerRoot {root}");
        let addr = host_port(&self.listen_host, self.port);
        line!("Listen {addr}");
        line!("ServerName {addr}");
        line!("PidFile {}", quote_path(&self.pid_file_path()));
        line!("DefaultRuntimeDir {root}");
        line!("ErrorLog {}", quote_path(&self.error_log_path()));
        line!();

        line!("# Modules");
        line!("{}", load(self.mpm.module_name()));
        for m in &self.modules {
            line!("{}", load(m));
        }
        if let Some(path) = &self.rustgi_module {
            line!("LoadModule rustgi_module {}", quote_path(path));
        }
        // After the modules: a per-module level needs its module loaded.
        line!("LogLevel {}", self.effective_log_level());
        line!();

        line!("# MPM {}", self.mpm);
        c.push_str(self.mpm.tuning());
        line!();

        line!("# Server");
        if let Some((user, group)) = &self.user {
            line!("User {user}");
            line!("Group {group}");
        }
        line!("Timeout 60");
        line!("KeepAlive On");
        line!("KeepAliveTimeout 5");
        line!("HostnameLookups Off");
        if self.modules.iter().any(|m| m == "mime") {
            line!("TypesConfig /etc/mime.types");
        }
        if self.access_log {
            line!(r#"LogFormat "%h %l %u %t \"%r\" %>s %b %D" rustgi"#);
            line!("CustomLog {} rustgi", quote_path(&self.access_log_path()));
        }
        line!("<Directory />");
        line!("    AllowOverride None");
        line!("    Require all denied");
        line!("</Directory>");
        if !self.extra.is_empty() {
            line!();
            line!("# Extra configuration");
            c.push_str(&self.extra);
        }
        c
    }

    /// Writes [`HttpdConf::render`] to [`HttpdConf::config_path`], creating
    /// the server root if needed, and returns the path.
    pub fn write(&self) -> io::Result<PathBuf> {
        fs::create_dir_all(&self.server_root)?;
        let path = self.config_path();
        fs::write(&path, self.render())?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<&str> {
        text.lines().map(str::trim).collect()
    }

    #[test]
    fn basics() {
        let text = HttpdConf::new("/srv/root", 8123)
            .user(None)
            .modules_dir("/mods")
            .render();
        let l = lines(&text);
        for expected in [
            "ServerRoot \"/srv/root\"",
            "Listen 127.0.0.1:8123",
            "ServerName 127.0.0.1:8123",
            "PidFile \"/srv/root/httpd.pid\"",
            "DefaultRuntimeDir \"/srv/root\"",
            "ErrorLog \"/srv/root/error_log\"",
            "LogLevel info",
            "LoadModule mpm_event_module \"/mods/mod_mpm_event.so\"",
            "LoadModule unique_id_module \"/mods/mod_unique_id.so\"",
            "LoadModule authz_core_module \"/mods/mod_authz_core.so\"",
            "TypesConfig /etc/mime.types",
            "<Directory />",
            "Require all denied",
            "</Directory>",
        ] {
            assert!(l.contains(&expected), "missing {expected:?} in\n{text}");
        }
        for m in DEFAULT_MODULES {
            let want = format!("LoadModule {m}_module \"/mods/mod_{m}.so\"");
            assert!(l.contains(&want.as_str()), "missing {want:?}");
        }
        assert!(!text.contains("rustgi_module"));
        assert!(!text.contains("\nUser "));
        assert!(!text.contains("\nGroup "));
    }

    #[test]
    fn log_level_follows_the_modules() {
        let with = HttpdConf::new("/r", 1).rustgi_module("/m.so").render();
        let level = with.find("LogLevel info rustgi:debug").unwrap();
        assert!(level > with.find("LoadModule rustgi_module").unwrap());
        let without = HttpdConf::new("/r", 1).log_level("warn rustgi:trace8");
        assert_eq!(without.effective_log_level(), "warn");
        let only = HttpdConf::new("/r", 1).log_level("rustgi:trace8");
        assert_eq!(only.effective_log_level(), "info");
    }

    #[test]
    fn mpm_comes_first_and_rustgi_last() {
        let text = HttpdConf::new("/r", 1)
            .modules_dir("/m")
            .mpm(Mpm::Prefork)
            .rustgi_module("/x/libmod_rustgi.so")
            .render();
        let loads: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("LoadModule "))
            .collect();
        assert_eq!(
            loads.first(),
            Some(&"LoadModule mpm_prefork_module \"/m/mod_mpm_prefork.so\"")
        );
        assert_eq!(
            loads.last(),
            Some(&"LoadModule rustgi_module \"/x/libmod_rustgi.so\"")
        );
        assert_eq!(loads.len(), DEFAULT_MODULES.len() + 2);
        let core = loads.iter().position(|l| l.contains("authz_core_module"));
        let host = loads.iter().position(|l| l.contains("authz_host_module"));
        assert!(core < host);
        assert!(!text.contains("mpm_event"));
    }

    #[test]
    fn mpm_tuning() {
        for mpm in Mpm::ALL {
            let text = HttpdConf::new("/r", 1).mpm(mpm).render();
            assert!(text.contains(&format!("mod_mpm_{}.so", mpm.name())));
            assert!(text.contains("MaxRequestWorkers "));
            assert!(text.contains("StartServers "));
            let threaded = text.contains("ThreadsPerChild ");
            assert_eq!(threaded, mpm != Mpm::Prefork, "{mpm}");
        }
        let prefork = HttpdConf::new("/r", 1).mpm(Mpm::Prefork).render();
        assert!(lines(&prefork).contains(&"StartServers 2"));
    }

    #[test]
    fn user_group() {
        let text = HttpdConf::new("/r", 1)
            .user(Some(("www".into(), "wwwg".into())))
            .render();
        assert!(lines(&text).contains(&"User www"));
        assert!(lines(&text).contains(&"Group wwwg"));
        // The default follows the effective uid.
        let root = rustgi_host::users::is_root();
        let text = HttpdConf::new("/r", 1).render();
        assert_eq!(lines(&text).contains(&"User nobody"), root);
        assert_eq!(lines(&text).contains(&"Group nogroup"), root);
    }

    #[test]
    fn modules_added_and_removed() {
        let conf = HttpdConf::new("/r", 1)
            .module("rewrite")
            .module("rewrite")
            .without_module("mime");
        let text = conf.render();
        assert_eq!(text.matches("LoadModule rewrite_module").count(), 1);
        assert!(!text.contains("mime_module"));
        assert!(!text.contains("TypesConfig"), "TypesConfig needs mod_mime");
        assert!(conf.modules().contains(&"rewrite".to_owned()));
    }

    #[test]
    fn extra_text_is_last_and_log_level_and_host() {
        let text = HttpdConf::new("/r", 9)
            .log_level("warn")
            .listen_host("127.0.0.2")
            .extra("SetEnv A b")
            .extra("SetEnv C d\n")
            .render();
        assert!(lines(&text).contains(&"LogLevel warn"));
        assert!(lines(&text).contains(&"Listen 127.0.0.2:9"));
        assert!(text.ends_with("SetEnv A b\nSetEnv C d\n"), "{text}");
        let dir = text.find("<Directory />").unwrap();
        assert!(dir < text.find("SetEnv A b").unwrap());
    }

    #[test]
    fn access_log_switch() {
        let on = HttpdConf::new("/r", 1).render();
        assert!(on.contains("CustomLog \"/r/access_log\""));
        let off = HttpdConf::new("/r", 1).access_log(false).render();
        assert!(!off.contains("CustomLog"));
    }

    #[test]
    fn ipv6_hosts_get_brackets() {
        assert_eq!(host_port("::1", 80), "[::1]:80");
        assert_eq!(host_port("[::1]", 80), "[::1]:80");
        assert_eq!(host_port("0.0.0.0", 80), "0.0.0.0:80");
        let text = HttpdConf::new("/r", 81).listen_host("::").render();
        assert!(lines(&text).contains(&"Listen [::]:81"), "{text}");
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("a b"), "\"a b\"");
        assert_eq!(quote("say \"hi\""), "\"say \\\"hi\\\"\"");
        let text = HttpdConf::new("/tmp/with space", 1).render();
        assert!(text.contains("ServerRoot \"/tmp/with space\""));
    }

    #[test]
    fn paths() {
        let conf = HttpdConf::new("/r", 77);
        assert_eq!(conf.config_path(), Path::new("/r/httpd.conf"));
        assert_eq!(conf.error_log_path(), Path::new("/r/error_log"));
        assert_eq!(conf.pid_file_path(), Path::new("/r/httpd.pid"));
        assert_eq!(conf.get_port(), 77);
        assert_eq!(conf.clone().port(78).get_port(), 78);
        assert_eq!(conf.get_mpm(), Mpm::Event);
    }

    #[test]
    fn mpm_parse_and_display() {
        assert_eq!("event".parse::<Mpm>(), Ok(Mpm::Event));
        assert_eq!("mpm_worker".parse::<Mpm>(), Ok(Mpm::Worker));
        assert_eq!(" Prefork ".parse::<Mpm>(), Ok(Mpm::Prefork));
        assert!("threads".parse::<Mpm>().is_err());
        assert_eq!(Mpm::Worker.to_string(), "worker");
    }

    #[test]
    fn write_creates_root_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("sub");
        let conf = HttpdConf::new(&root, 1);
        let path = conf.write().unwrap();
        assert_eq!(path, root.join("httpd.conf"));
        assert_eq!(fs::read_to_string(path).unwrap(), conf.render());
    }

    #[test]
    fn default_modules_exist_here() {
        // The machine this runs on has Apache installed: every module the
        // builder loads by default must be found where it points.
        let conf = HttpdConf::new("/r", 1);
        for m in conf
            .modules()
            .iter()
            .map(String::as_str)
            .chain(Mpm::ALL.iter().map(|m| m.module_name()))
        {
            let p = conf.module_path(m);
            assert!(p.is_file(), "{} does not exist", p.display());
        }
    }
}
