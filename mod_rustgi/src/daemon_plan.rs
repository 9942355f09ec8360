//! What a daemon group's processes are told at start: the configuration file
//! `rustgi-daemon --config` reads (JSON, written by the Apache parent into its
//! root-owned socket directory), and how death statuses read in the log.

use serde_json::{Value, json};

use crate::daemon_spec::DaemonSpec;
use crate::users::Account;

/// An app the group may serve, and the configuration its init gets when the
/// group loads it at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedApp {
    pub file: String,
    pub init_config: Vec<(String, String)>,
}

/// The identity the processes switch to (None: keep the parent's, when
/// Apache does not start as root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub account: Account,
    pub gid: u32,
}

/// The daemon's configuration file.
pub fn config_json(
    spec: &DaemonSpec,
    identity: Option<&Identity>,
    apps: &[PlannedApp],
    peer_uids: &[u32],
    script_reloading: bool,
) -> String {
    let pairs =
        |list: &[(String, String)]| -> Value { list.iter().map(|(k, v)| json!([k, v])).collect() };
    let home = spec.home.clone().or_else(|| {
        identity
            .map(|i| i.account.home.clone())
            .filter(|h| !h.is_empty())
    });
    let config = json!({
        "group": spec.name,
        "user": identity.map(|i| i.account.name.clone()),
        "uid": identity.map(|i| i.account.uid),
        "gid": identity.map(|i| i.gid),
        "home": home,
        "umask": spec.umask,
        "threads": spec.threads,
        "maximum_requests": spec.maximum_requests,
        "restart_interval": spec.restart_interval.as_secs(),
        "inactivity_timeout": spec.inactivity_timeout.as_secs(),
        "request_timeout": spec.request_timeout.as_secs(),
        "graceful_timeout": spec.graceful_timeout.as_secs(),
        "shutdown_timeout": spec.shutdown_timeout.as_secs(),
        "startup_timeout": spec.startup_timeout.as_secs(),
        "queue_timeout": spec.queue_timeout.as_secs(),
        "socket_timeout": spec.socket_timeout.as_secs(),
        "memory_limit": spec.memory_limit,
        "cpu_time_limit": spec.cpu_time_limit.as_secs(),
        "env": pairs(&spec.env),
        "peer_uids": peer_uids,
        "script_reloading": script_reloading,
        "apps": apps.iter().map(|a| json!({
            "file": a.file,
            "init_config": pairs(&a.init_config),
        })).collect::<Vec<_>>(),
    });
    serde_json::to_string_pretty(&config).expect("a JSON value always serializes")
}

/// How a process ended, from its wait status, for log lines.
pub fn describe_exit(status: i32) -> String {
    if libc::WIFSIGNALED(status) {
        let signal = libc::WTERMSIG(status);
        let name = match signal {
            libc::SIGKILL => "SIGKILL",
            libc::SIGSEGV => "SIGSEGV",
            libc::SIGABRT => "SIGABRT",
            libc::SIGTERM => "SIGTERM",
            libc::SIGBUS => "SIGBUS",
            libc::SIGILL => "SIGILL",
            libc::SIGFPE => "SIGFPE",
            libc::SIGXCPU => "SIGXCPU",
            libc::SIGINT => "SIGINT",
            _ => "",
        };
        let core = if libc::WCOREDUMP(status) {
            ", core dumped"
        } else {
            ""
        };
        if name.is_empty() {
            format!("killed by signal {signal}{core}")
        } else {
            format!("killed by signal {signal} ({name}){core}")
        }
    } else if libc::WIFEXITED(status) {
        format!("exited with status {}", libc::WEXITSTATUS(status))
    } else {
        format!("ended with wait status {status}")
    }
}

/// Whether an exit was a clean one (a recycle or a requested stop).
pub fn clean_exit(status: i32) -> bool {
    libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
}

/// The delay before starting a process again after `streak` deaths in a row
/// of short-lived processes: 0.1 s doubling up to 10 s, against crash loops.
pub fn restart_delay_ms(streak: u32) -> u64 {
    if streak == 0 {
        0
    } else {
        (100u64 << (streak - 1).min(7)).min(10_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_has_every_field() {
        let mut spec = DaemonSpec::new("shop");
        spec.env.push(("A".into(), "1".into()));
        let identity = Identity {
            account: Account {
                name: "shop".into(),
                uid: 1001,
                gid: 1001,
                home: "/home/shop".into(),
            },
            gid: 1002,
        };
        let apps = [PlannedApp {
            file: "/srv/a.so".into(),
            init_config: vec![("k".into(), "v".into())],
        }];
        let text = config_json(&spec, Some(&identity), &apps, &[33], true);
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["group"], "shop");
        assert_eq!(v["uid"], 1001);
        assert_eq!(v["gid"], 1002);
        assert_eq!(v["home"], "/home/shop");
        assert_eq!(v["threads"], 15);
        assert_eq!(v["request_timeout"], 60);
        assert_eq!(v["env"][0][1], "1");
        assert_eq!(v["peer_uids"][0], 33);
        assert_eq!(v["apps"][0]["init_config"][0][0], "k");
        let text = config_json(&spec, None, &[], &[], false);
        let v: Value = serde_json::from_str(&text).unwrap();
        assert!(v["uid"].is_null() && v["home"].is_null());
    }

    #[test]
    fn exits_are_described() {
        assert_eq!(describe_exit(9), "killed by signal 9 (SIGKILL)");
        assert_eq!(describe_exit(3 << 8), "exited with status 3");
        assert!(clean_exit(0));
        assert!(!clean_exit(9));
    }

    #[test]
    fn restart_delays_grow_and_cap() {
        assert_eq!(restart_delay_ms(0), 0);
        assert_eq!(restart_delay_ms(1), 100);
        assert_eq!(restart_delay_ms(2), 200);
        assert_eq!(restart_delay_ms(30), 10_000);
    }
}
