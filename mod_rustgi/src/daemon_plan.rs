//! What a daemon group's processes are told at start: the configuration file
//! `rustgi-daemon --config` reads (JSON, written by the Apache parent into its
//! root-owned socket directory).

use std::path::PathBuf;

use rustgi_contract::daemon_config::{AppSpec, Config};

use crate::daemon_spec::DaemonSpec;
use crate::users::Account;

/// An app the group may serve, and the configuration its init gets when the
/// group loads it at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedApp {
    pub file: String,
    pub init_config: Vec<(String, String)>,
    /// Loaded at start; otherwise only allowed, loaded on first request.
    pub preload: bool,
    /// More files whose change reloads the group (a WSGI script, whose app
    /// file is the Python bridge).
    pub watch: Vec<String>,
}

/// The identity the processes switch to (None: keep the parent's, when
/// Apache does not start as root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub account: Account,
    pub gid: u32,
}

/// The daemon's configuration file: the [`Config`] the daemon reads.
pub fn config_json(
    spec: &DaemonSpec,
    identity: Option<&Identity>,
    apps: &[PlannedApp],
    peer_uids: &[u32],
    script_reloading: bool,
    log_level: u8,
    status_dir: &str,
) -> String {
    let config = Config {
        group: spec.name.clone(),
        user: identity.map(|i| i.account.name.clone()),
        uid: identity.map(|i| i.account.uid),
        gid: identity.map(|i| i.gid),
        // None: the daemon uses the user's home, or `/` when it has none.
        home: spec.home.as_ref().map(PathBuf::from),
        umask: spec.umask,
        threads: spec.threads as usize,
        maximum_requests: spec.maximum_requests,
        restart_interval: spec.restart_interval.as_secs(),
        inactivity_timeout: spec.inactivity_timeout.as_secs(),
        request_timeout: spec.request_timeout.as_secs(),
        graceful_timeout: spec.graceful_timeout.as_secs(),
        shutdown_timeout: spec.shutdown_timeout.as_secs(),
        startup_timeout: spec.startup_timeout.as_secs(),
        queue_timeout: spec.queue_timeout.as_secs(),
        socket_timeout: spec.socket_timeout.as_secs(),
        memory_limit: spec.memory_limit,
        cpu_time_limit: spec.cpu_time_limit.as_secs(),
        env: spec.env.clone(),
        peer_uids: peer_uids.to_vec(),
        script_reloading,
        log_level,
        status_dir: Some(PathBuf::from(status_dir)),
        apps: apps
            .iter()
            .map(|a| AppSpec {
                file: PathBuf::from(&a.file),
                init_config: a.init_config.clone(),
                preload: a.preload,
                watch: a.watch.iter().map(PathBuf::from).collect(),
            })
            .collect(),
    };
    serde_json::to_string_pretty(&config).expect("a Config always serializes")
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
            preload: false,
            watch: vec!["/srv/wsgi.py".into()],
        }];
        spec.home = Some("/srv/shop".into());
        let text = config_json(
            &spec,
            Some(&identity),
            &apps,
            &[33],
            true,
            7,
            "/run/x/shop.status",
        );
        // What the daemon reads, with unknown fields refused.
        let c = Config::parse(text.as_bytes()).unwrap();
        assert_eq!(c.group, "shop");
        assert_eq!(
            (c.user.as_deref(), c.uid, c.gid),
            (Some("shop"), Some(1001), Some(1002))
        );
        assert_eq!(c.home.as_deref(), Some(std::path::Path::new("/srv/shop")));
        assert_eq!(c.log_level, 7);
        assert_eq!(
            c.status_dir.as_deref(),
            Some(std::path::Path::new("/run/x/shop.status"))
        );
        assert_eq!((c.threads, c.request_timeout), (15, 60));
        assert_eq!(c.env, [("A".to_owned(), "1".to_owned())]);
        assert_eq!(c.peer_uids, [33]);
        assert!(c.script_reloading);
        assert_eq!(c.apps[0].init_config, [("k".to_owned(), "v".to_owned())]);
        assert!(!c.apps[0].preload);
        assert_eq!(c.apps[0].watch, [std::path::PathBuf::from("/srv/wsgi.py")]);
        spec.home = None;
        let text = config_json(&spec, None, &[], &[], false, 6, "/s");
        let c = Config::parse(text.as_bytes()).unwrap();
        assert!(c.uid.is_none() && c.home.is_none());
    }
}
