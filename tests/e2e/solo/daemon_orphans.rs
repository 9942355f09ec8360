//! A daemon never outlives its Apache: after `kill -9` of Apache's parent
//! process, its daemons stop on their own within seconds instead of running
//! the app on, listening on a socket nobody supervises.

use crate::common;

use std::time::Duration;

use common::daemon::{
    apache_children, daemon_children, is_gone, poll_until, require_daemon, send_signal,
};
use common::{Artifact, TestServer};

#[test]
fn daemons_exit_when_apache_is_killed() {
    require_daemon();
    let srv = TestServer::builder()
        .app(Artifact::Faults)
        .config(
            "RustgiDaemonProcess faults processes=2 threads=2 home=@ROOT@\n\
             RustgiScriptAlias /f @APPS@/libfaults.so process-group=faults",
        )
        .start();
    assert_eq!(srv.get("/f/").status(), 200);
    let parent = srv.apache_pid();
    let daemons = daemon_children(parent);
    assert_eq!(daemons.len(), 2, "two daemon processes: {daemons:?}");
    let children = apache_children(parent);

    send_signal(parent, libc::SIGKILL);
    let left = poll_until(Duration::from_secs(5), Duration::from_millis(100), || {
        daemons.iter().all(|&pid| is_gone(pid)).then_some(())
    });
    // Apache's own children are not ours to wait for: end them too.
    for pid in children.into_iter().filter(|&pid| !is_gone(pid)) {
        let _ = std::panic::catch_unwind(|| send_signal(pid, libc::SIGKILL));
    }
    assert!(
        left.is_some(),
        "daemons {:?} still run 5 s after Apache's parent was killed\n{}",
        daemons
            .iter()
            .filter(|&&pid| !is_gone(pid))
            .collect::<Vec<_>>(),
        srv.error_log()
    );
    srv.wait_for_log_line(
        &[
            "group faults",
            "shutting down: Apache's parent process",
            "is gone",
        ],
        Duration::from_secs(5),
    );
}
