//! Daemon mode keeps apps out of Apache: they run in processes of their
//! own, under their group's user and home; only Apache's children can reach
//! a group's socket; a virtual host cannot use another host's group; and
//! `RustgiRestrictEmbedded On` refuses apps that would run inside Apache.

use crate::common;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::time::Duration;

use common::daemon::{
    Probe, apache_children, daemon_children, is_daemon_process, json_pid, parent_pid,
    probe_payload, probe_socket_as, proc_uid, require_daemon, skip, test_user,
};
use common::{Artifact, Request, TestServer, copy_readable};

const LOG_WAIT: Duration = Duration::from_secs(5);
/// How long a probe waits for the daemon to react to a foreign connection.
const PROBE_WAIT: Duration = Duration::from_secs(5);

/// Makes `<root>/NAME` (0755) for a group's `home=`.
fn home_dir(root: &std::path::Path, name: &str) -> PathBuf {
    let dir = root.join(name);
    fs::create_dir_all(&dir).expect("create home");
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod home");
    dir
}

/// The pids the start-up line of `group` lists
/// (`group NAME: P process(es) × T threads, user U, socket S, pids 1, 2`).
fn logged_pids(srv: &TestServer, group: &str) -> Vec<u32> {
    let line = srv.wait_for_log_line(&[&format!("group {group}: "), "pids "], LOG_WAIT);
    let list = line.rsplit("pids ").next().unwrap_or("");
    list.split(',')
        .map(|p| {
            p.trim()
                .parse::<u32>()
                .unwrap_or_else(|_| panic!("a pid list that does not parse: {line}"))
        })
        .collect()
}

#[test]
fn app_runs_in_a_daemon_process_as_the_groups_user_and_home() {
    require_daemon();
    let Some(user) = test_user("rgitest1") else {
        skip(
            "app_runs_in_a_daemon_process_as_the_groups_user_and_home",
            "needs root (to create rgitest1 and run a group as it)",
        );
        return;
    };
    let b = TestServer::builder().app(Artifact::Echo);
    // The daemon's copy is a file of its own, so the embedded alias and the
    // daemon alias never share an app.
    copy_readable(
        &Artifact::Echo.path(),
        &b.apps_dir().join("libecho-daemon.so"),
    );
    let home = home_dir(b.root(), "home-ident");
    let srv = b
        .config(&format!(
            "RustgiDaemonProcess ident user={} processes=2 threads=4 home={}\n\
             RustgiScriptAlias /embedded @APPS@/libecho.so\n\
             RustgiScriptAlias /daemon @APPS@/libecho-daemon.so process-group=ident",
            user.name,
            home.display()
        ))
        .start();
    let apache = srv.apache_pid();

    // Embedded requests: served by Apache's children.
    let mut embedded = BTreeSet::new();
    for i in 0..20 {
        let echo = srv.echo(&Request::get(&format!("/embedded/{i}")));
        assert_eq!(
            echo.env("rustgi.process_group").as_deref(),
            Some("%{GLOBAL}")
        );
        embedded.insert(echo.num("pid"));
    }
    let children: BTreeSet<u64> = apache_children(apache).into_iter().map(u64::from).collect();
    assert!(
        embedded.is_subset(&children),
        "embedded requests were served by {embedded:?}, Apache's children are {children:?}"
    );

    let listed = logged_pids(&srv, "ident");
    assert_eq!(listed.len(), 2, "processes=2, the log lists {listed:?}");
    let mut daemon_pids = BTreeSet::new();
    for i in 0..20 {
        let echo = srv.echo(&Request::post(&format!("/daemon/{i}")).body(format!("body {i}")));
        let pid = echo.num("pid");
        daemon_pids.insert(pid);
        assert_ne!(pid, u64::from(apache), "the app ran in Apache's parent");
        assert!(
            !embedded.contains(&pid) && !children.contains(&pid),
            "the daemon-mode app ran in an Apache child ({pid}; children {children:?})"
        );
        assert_eq!(echo.num("uid"), u64::from(user.uid), "uid of {pid}");
        assert_eq!(echo.num("gid"), u64::from(user.gid), "gid of {pid}");
        assert_eq!(
            echo.str("cwd"),
            home.display().to_string(),
            "cwd of {pid} (home=)"
        );
        assert_eq!(echo.str("path_info"), format!("/{i}"));
        assert_eq!(echo.str("script_name"), "/daemon");
        assert_eq!(echo.num("body_len"), format!("body {i}").len() as u64);
        assert_eq!(
            echo.env("rustgi.process_group").as_deref(),
            Some("ident"),
            "rustgi.process_group in daemon mode"
        );
    }
    for &pid in &daemon_pids {
        let pid = u32::try_from(pid).expect("pid fits u32");
        assert!(
            listed.contains(&pid),
            "pid {pid} served, the start-up line lists {listed:?}"
        );
        assert_eq!(
            parent_pid(pid),
            Some(apache),
            "a daemon process is a child of Apache's parent"
        );
        assert!(
            is_daemon_process(pid),
            "{pid} does not run {}",
            common::daemon::DAEMON_EXE
        );
        assert_eq!(proc_uid(pid), Some(user.uid), "/proc/{pid}/status Uid");
    }
    let daemons: BTreeSet<u32> = daemon_children(apache).into_iter().collect();
    assert_eq!(
        daemons,
        listed.iter().copied().collect(),
        "the daemon processes running are not those logged"
    );
    // The start-up line says what the group is. (Apache's error_log
    // escapes bytes outside ASCII: a `×` between the counts would read
    // `\xc3\x97`, so the separator is left open.)
    let socket = format!("socket {}", srv.root().join("rustgi/ident.sock").display());
    let user_part = format!("user {},", user.name);
    srv.wait_for_log_match("describing group ident", LOG_WAIT, |l| {
        l.split_once("group ident: 2 processes ")
            .is_some_and(|(_, rest)| rest.contains(" 4 threads, "))
            && l.contains(&user_part)
            && l.contains(&socket)
    });
}

#[test]
fn socket_is_0600_owned_by_apaches_user_and_refuses_other_uids() {
    require_daemon();
    let (Some(app_user), Some(other)) = (test_user("rgitest1"), test_user("rgitest2")) else {
        skip(
            "socket_is_0600_owned_by_apaches_user_and_refuses_other_uids",
            "needs root (test users, setuid for the foreign connection)",
        );
        return;
    };
    let b = TestServer::builder().app(Artifact::Faults);
    let home = home_dir(b.root(), "home-sock");
    let srv = b
        .config(&format!(
            "RustgiDaemonProcess sock user={} threads=2 home={}\n\
             RustgiScriptAlias /app @APPS@/libfaults.so process-group=sock",
            app_user.name,
            home.display()
        ))
        .start();
    assert_eq!(srv.get("/app/").text(), "ok");

    let dir = srv.root().join("rustgi");
    let socket = dir.join("sock.sock");
    let meta = fs::metadata(&socket).unwrap_or_else(|e| panic!("socket {}: {e}", socket.display()));
    assert!(
        meta.file_type().is_socket(),
        "{} is not a socket",
        socket.display()
    );
    assert_eq!(
        meta.permissions().mode() & 0o7777,
        0o600,
        "mode of {}",
        socket.display()
    );
    let nobody = common::daemon::lookup_user("nobody").expect("user nobody");
    assert_eq!(
        meta.uid(),
        nobody.uid,
        "{} must belong to Apache's User (nobody)",
        socket.display()
    );
    let dir_meta = fs::metadata(&dir).expect("socket directory");
    assert_eq!(dir_meta.uid(), 0, "the socket directory is root's");
    assert_eq!(
        dir_meta.permissions().mode() & 0o022,
        0,
        "the socket directory must not be writable by others"
    );

    // Another uid, with the socket as it is: the mode stops it at connect
    // (or the daemon closes the connection unanswered).
    let payload = probe_payload();
    let probe = probe_socket_as(&socket, other.uid, other.gid, &payload, PROBE_WAIT);
    eprintln!("uid {} on the 0600 socket: {probe:?}", other.uid);
    assert!(
        matches!(probe, Probe::ConnectDenied | Probe::ClosedSilently),
        "uid {} ({}) connecting to the 0600 socket: {probe:?}",
        other.uid,
        other.name
    );

    // Even if the mode let it through, the daemon checks the peer's
    // credentials: it closes the connection without a byte.
    fs::set_permissions(&socket, fs::Permissions::from_mode(0o666)).expect("chmod 0666");
    let probe = probe_socket_as(&socket, other.uid, other.gid, &payload, PROBE_WAIT);
    fs::set_permissions(&socket, fs::Permissions::from_mode(0o600)).expect("chmod 0600 again");
    assert_eq!(
        probe,
        Probe::ClosedSilently,
        "uid {} ({}) got through a 0666 socket: the daemon must close the connection \
         without answering (SO_PEERCRED)",
        other.uid,
        other.name
    );
    // The app's own user is not Apache's either.
    fs::set_permissions(&socket, fs::Permissions::from_mode(0o666)).expect("chmod 0666");
    let probe = probe_socket_as(&socket, app_user.uid, app_user.gid, &payload, PROBE_WAIT);
    fs::set_permissions(&socket, fs::Permissions::from_mode(0o600)).expect("chmod 0600 again");
    assert_eq!(
        probe,
        Probe::ClosedSilently,
        "uid {} ({}, the group's own user) is not Apache's User: refused",
        app_user.uid,
        app_user.name
    );

    // The group still serves Apache.
    for _ in 0..5 {
        let resp = srv.get("/app/");
        assert_eq!(resp.status(), 200, "{}", resp.text());
    }
}

#[test]
fn virtual_hosts_run_their_groups_as_their_users() {
    require_daemon();
    let (Some(a), Some(b_user)) = (test_user("rgitest1"), test_user("rgitest2")) else {
        skip(
            "virtual_hosts_run_their_groups_as_their_users",
            "needs root (test users)",
        );
        return;
    };
    let b = TestServer::builder().app(Artifact::Faults);
    let home = home_dir(b.root(), "home");
    let srv = b
        .config(&format!(
            "<VirtualHost *:@PORT@>\n\
             \x20   ServerName a.test\n\
             \x20   RustgiDaemonProcess a-group user={} threads=2 home={home}\n\
             \x20   RustgiProcessGroup a-group\n\
             \x20   RustgiScriptAlias /app @APPS@/libfaults.so\n\
             </VirtualHost>\n\
             <VirtualHost *:@PORT@>\n\
             \x20   ServerName b.test\n\
             \x20   RustgiDaemonProcess b-group user={} threads=2 home={home}\n\
             \x20   RustgiProcessGroup b-group\n\
             \x20   RustgiScriptAlias /app @APPS@/libfaults.so\n\
             </VirtualHost>",
            a.name,
            b_user.name,
            home = home.display()
        ))
        .start();
    for (host, user) in [("a.test", &a), ("b.test", &b_user), ("a.test", &a)] {
        let resp = srv.send(&Request::get("/app/pid").header("Host", host));
        assert_eq!(resp.status(), 200, "Host: {host}: {}", resp.text());
        let v = resp.json();
        assert_eq!(v["uid"], user.uid, "Host: {host} must run as {}", user.name);
        assert!(json_pid(&resp).is_some());
    }
}

/// What became of a configuration in which virtual host a.test selects
/// b.test's group: Apache refused to start (naming the group), or it
/// started and refuses the request (500 and an error_log line naming it).
fn assert_foreign_group_is_refused(variant: &str, a_host_lines: &str) {
    let (Some(a), Some(b_user)) = (test_user("rgitest1"), test_user("rgitest2")) else {
        skip(variant, "needs root (test users)");
        return;
    };
    let b = TestServer::builder().app(Artifact::Faults);
    let home = home_dir(b.root(), "home");
    let config = format!(
        "<VirtualHost *:@PORT@>\n\
         \x20   ServerName a.test\n\
         \x20   RustgiDaemonProcess a-group user={} threads=2 home={home}\n\
         {a_host_lines}\n\
         </VirtualHost>\n\
         <VirtualHost *:@PORT@>\n\
         \x20   ServerName b.test\n\
         \x20   RustgiDaemonProcess b-group user={} threads=2 home={home}\n\
         \x20   RustgiProcessGroup b-group\n\
         \x20   RustgiScriptAlias /app @APPS@/libfaults.so\n\
         </VirtualHost>",
        a.name,
        b_user.name,
        home = home.display()
    );
    match b.config(&config).try_start() {
        Err((e, conf)) => {
            let log = e.log();
            assert!(
                log.contains("b-group"),
                "{variant}: Apache refused to start, but without naming b-group:\n{e}\n\
                 --- httpd.conf ---\n{conf}"
            );
            eprintln!("{variant}: Apache refused to start, naming b-group");
        }
        Ok(srv) => {
            let resp = srv.send(&Request::get("/app/pid").header("Host", "a.test"));
            assert_eq!(
                resp.status(),
                500,
                "{variant}: a.test reached b.test's group: {}",
                resp.text()
            );
            assert!(
                !resp.text().contains(&format!("\"uid\":{}", b_user.uid)),
                "{variant}: the app answered"
            );
            srv.wait_for_log_line(&["b-group"], LOG_WAIT);
            // b.test itself is fine.
            let resp = srv.send(&Request::get("/app/pid").header("Host", "b.test"));
            assert_eq!(resp.status(), 200, "{variant}: b.test: {}", resp.text());
            assert_eq!(resp.json()["uid"], b_user.uid);
            eprintln!("{variant}: 500 for a.test, error_log names b-group");
        }
    }
}

#[test]
fn virtual_host_cannot_select_another_hosts_group_with_process_group() {
    require_daemon();
    assert_foreign_group_is_refused(
        "RustgiProcessGroup in the virtual host",
        "    RustgiProcessGroup b-group\n    RustgiScriptAlias /app @APPS@/libfaults.so",
    );
}

#[test]
fn virtual_host_cannot_select_another_hosts_group_in_a_location() {
    require_daemon();
    assert_foreign_group_is_refused(
        "RustgiProcessGroup in a <Location>",
        "    RustgiProcessGroup a-group\n    RustgiScriptAlias /app @APPS@/libfaults.so\n    \
         <Location /app>\n        RustgiProcessGroup b-group\n    </Location>",
    );
}

#[test]
fn virtual_host_cannot_select_another_hosts_group_with_the_alias_option() {
    require_daemon();
    assert_foreign_group_is_refused(
        "process-group= on the RustgiScriptAlias",
        "    RustgiScriptAlias /app @APPS@/libfaults.so process-group=b-group",
    );
}

#[test]
fn restrict_embedded_refuses_embedded_apps_and_serves_daemon_ones() {
    require_daemon();
    let b = TestServer::builder()
        .app(Artifact::Echo)
        .app(Artifact::Faults);
    let home = home_dir(b.root(), "home");
    let srv = b
        .config(&format!(
            // The group comes from a <Location>, so where /embedded runs is
            // known per request only: apache2 -t lets it through, and the
            // request is refused.
            "RustgiRestrictEmbedded On\n\
             RustgiDaemonProcess only threads=2 home={}\n\
             RustgiScriptAlias /embedded @APPS@/libecho.so\n\
             RustgiScriptAlias /daemon @APPS@/libfaults.so\n\
             <Location /daemon>\n    RustgiProcessGroup only\n</Location>",
            home.display()
        ))
        .start();
    let resp = srv.get("/embedded/x");
    assert_eq!(resp.status(), 500, "{}", resp.text());
    assert!(
        !resp.text().contains("environ"),
        "the embedded app ran: {}",
        resp.text()
    );
    srv.wait_for_log_line(&["RustgiRestrictEmbedded", "libecho.so"], LOG_WAIT);

    let resp = srv.get("/daemon/");
    assert_eq!(resp.status(), 200, "{}", resp.text());
    assert_eq!(resp.text(), "ok");
    let resp = srv.get("/daemon/pid");
    assert_eq!(resp.status(), 200, "{}", resp.text());
    let pid = json_pid(&resp).expect("a pid");
    assert_ne!(pid, u64::from(srv.apache_pid()));
    assert!(is_daemon_process(u32::try_from(pid).unwrap()));
    // Still refused afterwards.
    assert_eq!(srv.get("/embedded/y").status(), 500);
}
