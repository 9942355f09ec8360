//! The configuration of a daemon process: the contract between the Apache
//! parent, which writes it (JSON, into its root-owned socket directory)
//! from `RustgiDaemonProcess` and the apps of the group, and
//! `rustgi-daemon --config FILE`, which reads it. One type on both sides:
//! the parent serialises a [`Config`], the daemon deserialises it and
//! refuses unknown fields, so a name that differs between the two is an
//! error at start, not a silent default. `docs/protocol.md` documents the
//! file.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One app the group serves, and the configuration its init gets.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AppSpec {
    pub file: PathBuf,
    #[serde(default)]
    pub init_config: Vec<(String, String)>,
    /// Load it at start (default); when false the group only may serve it,
    /// loading it on its first request.
    #[serde(default = "preload_default")]
    pub preload: bool,
    /// More files whose change recycles the process (script reloading): a
    /// WSGI script, whose app file is the Python bridge.
    #[serde(default)]
    pub watch: Vec<PathBuf>,
}

fn preload_default() -> bool {
    true
}

/// The daemon's log level when none is given: Apache's `APLOG_INFO`.
pub const LOG_INFO: u8 = 6;

/// The most worker threads a process takes.
pub const MAX_THREADS: u32 = 10_000;

/// The longest time any option may give, in seconds: about ten years.
/// Longer is surely a mistake, and adding it to the clock would overflow.
pub const MAX_SECONDS: u64 = 10 * 365 * 24 * 3600;

/// The configuration file, JSON, written by mod_rustgi. Times are in
/// seconds, 0 = off; missing fields take the defaults of
/// [`Config::default`] (mod_wsgi-express's values); unknown fields are
/// refused.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The process group's name, for log lines.
    pub group: String,
    /// Who to run as: user name (for initgroups), uid and gid; null = keep
    /// the identity the daemon was started with.
    pub user: Option<String>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// The working directory; null = the user's home from passwd (or `/`).
    pub home: Option<PathBuf>,
    /// The umask; null = leave it.
    pub umask: Option<u32>,
    /// Worker threads: requests served at once.
    pub threads: usize,
    pub maximum_requests: u64,
    pub restart_interval: u64,
    pub inactivity_timeout: u64,
    pub request_timeout: u64,
    pub graceful_timeout: u64,
    pub shutdown_timeout: u64,
    pub startup_timeout: u64,
    pub queue_timeout: u64,
    pub socket_timeout: u64,
    /// Resident memory in bytes past which the process recycles.
    pub memory_limit: u64,
    /// CPU seconds past which the process recycles (RLIMIT_CPU, SIGXCPU).
    pub cpu_time_limit: u64,
    /// Environment variables to set.
    pub env: Vec<(String, String)>,
    /// The uids allowed to connect (root always is).
    pub peer_uids: Vec<u32>,
    /// Recycle when an app's file changes.
    pub script_reloading: bool,
    /// The apps this group serves.
    pub apps: Vec<AppSpec>,
    /// Where the process writes its status file for the status page.
    pub status_dir: Option<PathBuf>,
    /// The most verbose level of the daemon's own lines (Apache's `APLOG_*`
    /// numbering, 0..=15; default 6, info). Lines for a request are sent to
    /// the Apache child, which applies its own LogLevel.
    pub log_level: u8,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            group: String::new(),
            user: None,
            uid: None,
            gid: None,
            home: None,
            umask: None,
            threads: 15,
            maximum_requests: 0,
            restart_interval: 0,
            inactivity_timeout: 0,
            request_timeout: 60,
            graceful_timeout: 15,
            shutdown_timeout: 5,
            startup_timeout: 15,
            queue_timeout: 45,
            socket_timeout: 60,
            memory_limit: 0,
            cpu_time_limit: 0,
            env: Vec::new(),
            peer_uids: Vec::new(),
            script_reloading: false,
            apps: Vec::new(),
            status_dir: None,
            log_level: LOG_INFO,
        }
    }
}

/// Why the configuration cannot be used.
#[derive(Debug)]
pub struct ConfigError(String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Config {
    /// Reads and checks the file at `path`.
    pub fn read(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read(path)
            .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
        Config::parse(&text).map_err(|e| ConfigError(format!("{}: {e}", path.display())))
    }

    /// Parses and checks a configuration.
    pub fn parse(json: &[u8]) -> Result<Config, ConfigError> {
        let config: Config =
            serde_json::from_slice(json).map_err(|e| ConfigError(format!("invalid JSON: {e}")))?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), ConfigError> {
        let fail = |m: String| Err(ConfigError(m));
        if self.group.is_empty() {
            return fail("\"group\" is missing or empty".into());
        }
        if self.threads == 0 || self.threads > MAX_THREADS as usize {
            return fail(format!(
                "\"threads\" is {}; it must be 1 to {MAX_THREADS}",
                self.threads
            ));
        }
        if let Some(mask) = self.umask {
            if mask > 0o777 {
                return fail(format!("\"umask\" {mask:#o} is over 0777"));
            }
        }
        if self.uid == Some(0) {
            return fail("\"uid\" is 0: daemon processes never run as root".into());
        }
        let times = [
            ("restart_interval", self.restart_interval),
            ("inactivity_timeout", self.inactivity_timeout),
            ("request_timeout", self.request_timeout),
            ("graceful_timeout", self.graceful_timeout),
            ("shutdown_timeout", self.shutdown_timeout),
            ("startup_timeout", self.startup_timeout),
            ("queue_timeout", self.queue_timeout),
            ("socket_timeout", self.socket_timeout),
            ("cpu_time_limit", self.cpu_time_limit),
        ];
        if let Some((name, value)) = times.iter().find(|(_, value)| *value > MAX_SECONDS) {
            return fail(format!(
                "\"{name}\" is {value} s; it must be at most {MAX_SECONDS} s (about ten years)"
            ));
        }
        if self.log_level > crate::protocol::MAX_LOG_LEVEL {
            return fail(format!("\"log_level\" {} is over 15", self.log_level));
        }
        for app in &self.apps {
            if !app.file.is_absolute() {
                return fail(format!(
                    "app file {} is not an absolute path",
                    app.file.display()
                ));
            }
        }
        for (name, value) in &self.env {
            if name.is_empty() || name.contains(['=', '\0']) || value.contains('\0') {
                return fail(format!("invalid environment variable {name:?}"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn the_documented_example_parses() {
        let json =
            br#"{"group":"shop","user":"shop","uid":1001,"gid":1001,"home":"/srv/shop","umask":18,
 "threads":15,"maximum_requests":0,"restart_interval":0,"inactivity_timeout":0,
 "request_timeout":60,"graceful_timeout":15,"shutdown_timeout":5,"startup_timeout":15,
 "queue_timeout":45,"socket_timeout":60,"memory_limit":0,"cpu_time_limit":0,
 "env":[["KEY","VALUE"]],"peer_uids":[33],"script_reloading":true,
 "apps":[{"file":"/srv/shop/app/libshop.so","init_config":[["k","v"]]}]}"#;
        let c = Config::parse(json).unwrap();
        assert_eq!(c.group, "shop");
        assert_eq!(c.uid, Some(1001));
        assert_eq!(c.umask, Some(0o22));
        assert_eq!(c.env, [("KEY".to_owned(), "VALUE".to_owned())]);
        assert_eq!(c.peer_uids, [33]);
        assert!(c.script_reloading);
        assert_eq!(c.apps[0].file, Path::new("/srv/shop/app/libshop.so"));
        assert_eq!(c.apps[0].init_config, [("k".to_owned(), "v".to_owned())]);
        assert_eq!(c.log_level, 6);
    }

    #[test]
    fn what_the_parent_writes_the_daemon_reads() {
        let config = Config {
            group: "shop".into(),
            uid: Some(1001),
            home: Some("/srv/shop".into()),
            env: vec![("A".into(), "1".into())],
            apps: vec![AppSpec {
                file: "/srv/shop/app.py".into(),
                init_config: vec![("k".into(), "v".into())],
                preload: false,
                watch: vec!["/srv/shop/app.py".into()],
            }],
            ..Config::default()
        };
        let json = serde_json::to_vec(&config).unwrap();
        assert_eq!(Config::parse(&json).unwrap(), config);
    }

    #[test]
    fn nulls_and_defaults() {
        let c = Config::parse(
            br#"{"group":"g","user":null,"uid":null,"gid":null,"home":null,"umask":null}"#,
        )
        .unwrap();
        assert_eq!(c.uid, None);
        assert_eq!(c.threads, 15);
        assert_eq!(c.request_timeout, 60);
        assert!(c.apps.is_empty());
    }

    #[test]
    fn bad_configurations() {
        for (json, needle) in [
            (&br#"{"group":""}"#[..], "group"),
            (br#"{"threads":3}"#, "group"),
            (br#"{"group":"g","threads":0}"#, "threads"),
            (br#"{"group":"g","uid":0}"#, "root"),
            (br#"{"group":"g","umask":4096}"#, "umask"),
            (br#"{"group":"g","apps":[{"file":"rel.so"}]}"#, "absolute"),
            (br#"{"group":"g","env":[["A=B","c"]]}"#, "environment"),
            (br#"{"group":"g","threads":"x"}"#, "JSON"),
            (
                br#"{"group":"g","apps":[{"file":"/a.so","bogus":1}]}"#,
                "JSON",
            ),
            (b"not json", "JSON"),
            // A misspelled field is an error, not a default.
            (br#"{"group":"g","therads":3}"#, "unknown field `therads`"),
            (
                br#"{"group":"g","graceful_timeout":18446744073709551615}"#,
                "\"graceful_timeout\" is 18446744073709551615 s",
            ),
            (
                br#"{"group":"g","socket_timeout":315360001}"#,
                "socket_timeout",
            ),
        ] {
            let err = Config::parse(json).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
    }
}
