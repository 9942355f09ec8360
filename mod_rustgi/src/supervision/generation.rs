//! A configuration generation's groups: what each keeps of the previous
//! generation, where its files are, and how its processes are started.
//!
//! A group's listening socket outlives a graceful restart: the new
//! generation takes over the open socket of the group of the same name,
//! so that the connections waiting in its backlog are served by the new
//! processes. A socket is created when there is none to take over (a new
//! group, a new `RustgiSocketPrefix`, or a socket file someone removed),
//! and the files of the old sockets nobody took over are removed, once the
//! new ones are in place. The restart history of a group stays with its
//! name.

use std::os::fd::RawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::configured::Defined;
use crate::daemon_plan::Identity;
use crate::daemon_spec::DaemonSpec;
use crate::daemon_wait::Timeouts;
use crate::leftovers;
use crate::wsgi_script::PythonPlace;

/// The fd a daemon process finds its group's listening socket on.
pub const LISTEN_FD: RawFd = 3;

/// The socket directory: root's, and written by nobody else, so that
/// nobody can put a socket in a group's place.
pub const SOCKET_DIR_MODE: u32 = 0o755;
/// A group's socket: only its owner (Apache's children) may connect.
pub const SOCKET_MODE: u32 = 0o600;
/// A group's daemon configuration: read by the daemon before it gives up
/// root, and by nobody else.
pub const CONFIG_MODE: u32 = 0o600;
/// The group file: read by the children for the status page and the
/// health check.
pub const GROUP_FILE_MODE: u32 = 0o644;
/// The directory the group's processes write their status files into.
pub const STATUS_DIR_MODE: u32 = 0o755;

/// Where a group's files are in the socket directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupPaths {
    pub name: String,
    pub socket: PathBuf,
    /// The daemon's configuration (`rustgi-daemon --config`).
    pub config_file: PathBuf,
    /// The parent's file about the group (processes, restarts).
    pub group_file: PathBuf,
    /// Where the group's processes write their status files.
    pub status_dir: PathBuf,
}

impl GroupPaths {
    pub fn new(dir: &Path, name: &str) -> GroupPaths {
        GroupPaths {
            name: name.to_owned(),
            socket: leftovers::socket(dir, name),
            config_file: leftovers::config_file(dir, name),
            group_file: leftovers::group_file(dir, name),
            status_dir: leftovers::status_dir(dir, name),
        }
    }
}

/// A group of the previous generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OldGroup {
    pub name: String,
    /// Where its socket was created.
    pub socket: PathBuf,
    /// Whether that file is still there.
    pub socket_exists: bool,
}

/// Where a group's listening socket comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// The open socket of the old group at this index.
    Reuse(usize),
    /// A new one, created at the group's path.
    Create,
}

/// One group of the new generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupPlan {
    pub paths: GroupPaths,
    pub listener: Listener,
    /// The old group (by index) whose record the group keeps.
    pub history: Option<usize>,
}

/// What a new generation does, group by group, in configuration order.
/// The old groups' sockets that no group reuses are closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerationPlan {
    pub groups: Vec<GroupPlan>,
    /// The files of old sockets that no group reuses or creates again, to
    /// remove once the new groups are in place.
    pub remove: Vec<PathBuf>,
}

/// The plan for groups `new` (configuration order) after groups `old`.
pub fn plan(new: Vec<GroupPaths>, old: &[OldGroup]) -> GenerationPlan {
    let mut reused = vec![false; old.len()];
    let mut carried = vec![false; old.len()];
    let mut groups = Vec::with_capacity(new.len());
    for paths in new {
        // Only the socket still at the path is the one the children reach.
        let listener = match (0..old.len())
            .find(|&i| !reused[i] && old[i].socket == paths.socket && old[i].socket_exists)
        {
            Some(i) => {
                reused[i] = true;
                Listener::Reuse(i)
            }
            None => Listener::Create,
        };
        let history = (0..old.len()).find(|&i| !carried[i] && old[i].name == paths.name);
        if let Some(i) = history {
            carried[i] = true;
        }
        groups.push(GroupPlan {
            paths,
            listener,
            history,
        });
    }
    // A path a new socket was created at is not removed with the old one.
    let remove = old
        .iter()
        .zip(&reused)
        .filter(|&(o, &reused)| !reused && groups.iter().all(|g| g.paths.socket != o.socket))
        .map(|(o, _)| o.socket.clone())
        .collect();
    GenerationPlan { groups, remove }
}

/// Who owns a group's status directory: its processes' user, who write
/// there; None, when they run as Apache does, leaves it as created.
pub fn status_dir_owner(identity: Option<&Identity>) -> Option<(u32, u32)> {
    identity.map(|i| (i.account.uid, i.gid))
}

/// The arguments of `rustgi-daemon` for the process in `slot`, which waits
/// `delay_ms` before it loads its apps (the back-off after crashes).
pub fn daemon_args(config_file: &Path, slot: u32, delay_ms: u64) -> Vec<String> {
    let mut args = vec![
        "--config".to_owned(),
        config_file.to_string_lossy().into_owned(),
        "--listen-fd".to_owned(),
        LISTEN_FD.to_string(),
        "--process".to_owned(),
        slot.to_string(),
    ];
    if delay_ms > 0 {
        args.extend(["--start-delay-ms".to_owned(), delay_ms.to_string()]);
    }
    args
}

/// The environment of `rustgi-daemon`: none of Apache's (the group's own
/// `env=` is set by the daemon).
pub fn daemon_env() -> Vec<(String, String)> {
    vec![
        ("PATH".to_owned(), "/usr/local/bin:/usr/bin:/bin".to_owned()),
        ("LANG".to_owned(), "C.UTF-8".to_owned()),
    ]
}

/// What an Apache child needs to reach a group; set in the parent before the
/// children are forked, read-only in them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupAddress {
    pub name: String,
    /// The ServerName of the virtual host that defined the group; None for
    /// the main server's groups, which serve every host.
    pub scope: Option<String>,
    pub socket: PathBuf,
    pub connect_timeout: Duration,
    /// queue-timeout, request-timeout and socket-timeout.
    pub timeouts: Timeouts,
    /// The parent's file about the group (processes, restarts).
    pub group_file: PathBuf,
    /// Where the group's processes write their status files.
    pub status_dir: PathBuf,
    /// What the group's WSGI scripts are told of it.
    pub python: PythonPlace,
}

impl GroupAddress {
    pub fn new(defined: &Defined, paths: &GroupPaths) -> GroupAddress {
        let spec = &defined.spec;
        GroupAddress {
            name: spec.name.clone(),
            scope: defined.scope.clone(),
            socket: paths.socket.clone(),
            connect_timeout: spec.connect_timeout,
            timeouts: Timeouts {
                queue: spec.queue_timeout,
                request: spec.request_timeout,
                socket: spec.socket_timeout,
            },
            group_file: paths.group_file.clone(),
            status_dir: paths.status_dir.clone(),
            python: PythonPlace::daemon(spec),
        }
    }
}

/// The log line of a group whose processes `pids` were started.
pub fn started_message(
    spec: &DaemonSpec,
    identity: Option<&Identity>,
    socket: &Path,
    pids: &[u32],
) -> String {
    let user = identity.map_or_else(
        || "the user Apache runs as".to_owned(),
        |i| format!("user {}", i.account.name),
    );
    let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
    format!(
        "group {}: {} process{} x {} threads, {user}, socket {}, pids {}",
        spec.name,
        spec.processes,
        if spec.processes == 1 { "" } else { "es" },
        spec.threads,
        socket.display(),
        pids.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supervision::identity::tests::{FakeAccounts, ROOT_APACHE};
    use crate::supervision::identity::{ApacheIds, identity};

    const RUN: &str = "/run/apache2/rustgi";

    fn paths(names: &[&str]) -> Vec<GroupPaths> {
        names
            .iter()
            .map(|n| GroupPaths::new(Path::new(RUN), n))
            .collect()
    }

    fn old(name: &str, dir: &str, exists: bool) -> OldGroup {
        OldGroup {
            name: name.into(),
            socket: Path::new(dir).join(format!("{name}.sock")),
            socket_exists: exists,
        }
    }

    fn listeners(plan: &GenerationPlan) -> Vec<(&str, Listener, Option<usize>)> {
        plan.groups
            .iter()
            .map(|g| (g.paths.name.as_str(), g.listener, g.history))
            .collect()
    }

    #[test]
    fn paths_are_in_the_socket_directory() {
        let p = GroupPaths::new(Path::new(RUN), "shop");
        assert_eq!(p.socket, Path::new("/run/apache2/rustgi/shop.sock"));
        assert_eq!(p.config_file, Path::new("/run/apache2/rustgi/shop.json"));
        assert_eq!(
            p.group_file,
            Path::new("/run/apache2/rustgi/shop.group.json")
        );
        assert_eq!(p.status_dir, Path::new("/run/apache2/rustgi/shop.status"));
    }

    #[test]
    fn the_first_start_creates_every_socket() {
        let plan = plan(paths(&["shop", "blog"]), &[]);
        assert_eq!(
            listeners(&plan),
            [
                ("shop", Listener::Create, None),
                ("blog", Listener::Create, None)
            ]
        );
        assert!(plan.remove.is_empty());
    }

    #[test]
    fn a_graceful_restart_takes_over_each_groups_socket_by_name() {
        // The configuration lists the groups in another order now.
        let before = [old("blog", RUN, true), old("shop", RUN, true)];
        let plan = plan(paths(&["shop", "blog"]), &before);
        assert_eq!(
            listeners(&plan),
            [
                ("shop", Listener::Reuse(1), Some(1)),
                ("blog", Listener::Reuse(0), Some(0))
            ]
        );
        assert!(plan.remove.is_empty());
    }

    #[test]
    fn a_removed_groups_socket_goes_and_a_new_one_is_created() {
        let before = [old("shop", RUN, true), old("legacy", RUN, true)];
        let plan = plan(paths(&["shop", "api"]), &before);
        assert_eq!(
            listeners(&plan),
            [
                ("shop", Listener::Reuse(0), Some(0)),
                ("api", Listener::Create, None)
            ]
        );
        assert_eq!(
            plan.remove,
            [PathBuf::from("/run/apache2/rustgi/legacy.sock")]
        );
        // Every group removed: every socket goes.
        let plan = super::plan(Vec::new(), &before);
        assert!(plan.groups.is_empty());
        assert_eq!(plan.remove.len(), 2);
    }

    #[test]
    fn a_new_socket_prefix_creates_the_socket_and_keeps_the_history() {
        let before = [old("shop", "/var/run/old-prefix", true)];
        let plan = plan(paths(&["shop"]), &before);
        assert_eq!(listeners(&plan), [("shop", Listener::Create, Some(0))]);
        assert_eq!(
            plan.remove,
            [PathBuf::from("/var/run/old-prefix/shop.sock")]
        );
    }

    #[test]
    fn a_socket_file_removed_by_hand_is_created_again_and_kept() {
        // The old socket is still open but the children can no longer
        // reach it: a new one takes its path, and is not removed with it.
        let before = [old("shop", RUN, false)];
        let plan = plan(paths(&["shop"]), &before);
        assert_eq!(listeners(&plan), [("shop", Listener::Create, Some(0))]);
        assert!(plan.remove.is_empty());
    }

    #[test]
    fn a_group_whose_user_changed_keeps_its_socket_but_not_its_owners() {
        // The socket belongs to Apache's children, whoever the group runs
        // as: it is taken over. What the processes own follows the user.
        let plan = plan(paths(&["shop"]), &[old("shop", RUN, true)]);
        assert_eq!(listeners(&plan), [("shop", Listener::Reuse(0), Some(0))]);
        let mut spec = DaemonSpec::new("shop");
        let before = identity(&spec, &ROOT_APACHE, &FakeAccounts).unwrap();
        spec.user = Some("shop".into());
        let after = identity(&spec, &ROOT_APACHE, &FakeAccounts).unwrap();
        assert_eq!(status_dir_owner(before.as_ref()), Some((33, 33)));
        assert_eq!(status_dir_owner(after.as_ref()), Some((1001, 1001)));
        assert_eq!(ROOT_APACHE.socket_owner(), Some(33));
        let not_root = ApacheIds {
            euid: 1500,
            ..ROOT_APACHE
        };
        let none = identity(&spec, &not_root, &FakeAccounts).unwrap();
        assert_eq!(status_dir_owner(none.as_ref()), None);
    }

    #[test]
    fn the_daemons_command_line() {
        let config = Path::new("/run/apache2/rustgi/shop.json");
        assert_eq!(
            daemon_args(config, 1, 0),
            [
                "--config",
                "/run/apache2/rustgi/shop.json",
                "--listen-fd",
                "3",
                "--process",
                "1"
            ]
        );
        let delayed = daemon_args(config, 0, 400);
        assert_eq!(delayed[6..], ["--start-delay-ms", "400"]);
        let env = daemon_env();
        assert!(env.iter().all(|(k, _)| k == "PATH" || k == "LANG"));
    }

    #[test]
    fn the_address_the_children_get() {
        let mut spec = DaemonSpec::new("shop");
        spec.queue_timeout = Duration::from_secs(7);
        spec.processes = 3;
        let defined = Defined {
            spec,
            scope: Some("shop.example".into()),
            apps: Vec::new(),
        };
        let p = GroupPaths::new(Path::new(RUN), "shop");
        let a = GroupAddress::new(&defined, &p);
        assert_eq!(a.scope.as_deref(), Some("shop.example"));
        assert_eq!((a.socket, a.group_file), (p.socket, p.group_file));
        assert_eq!(a.timeouts.queue, Duration::from_secs(7));
        assert_eq!(a.timeouts.request, defined.spec.request_timeout);
        assert_eq!(a.python.process_group, "shop");
        assert!(a.python.multiprocess);
    }

    #[test]
    fn the_start_is_logged_with_its_shape() {
        let mut spec = DaemonSpec::new("shop");
        spec.processes = 2;
        spec.threads = 4;
        let shop = identity(
            &DaemonSpec {
                user: Some("shop".into()),
                ..spec.clone()
            },
            &ROOT_APACHE,
            &FakeAccounts,
        )
        .unwrap();
        let socket = Path::new("/run/apache2/rustgi/shop.sock");
        assert_eq!(
            started_message(&spec, shop.as_ref(), socket, &[10, 11]),
            "group shop: 2 processes x 4 threads, user shop, socket \
             /run/apache2/rustgi/shop.sock, pids 10, 11"
        );
        spec.processes = 1;
        assert_eq!(
            started_message(&spec, None, socket, &[10]),
            "group shop: 1 process x 4 threads, the user Apache runs as, socket \
             /run/apache2/rustgi/shop.sock, pids 10"
        );
    }
}
