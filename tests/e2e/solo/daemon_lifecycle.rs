//! Daemon processes come and go under load without failing requests:
//! recycling after maximum-requests, a process killed with SIGKILL (only
//! its own requests fail), `apachectl graceful`, and replacing the app file.
//!
//! These tests load the machine: they take turns (`heavy_lock`).

use crate::common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::daemon::{
    Load, Outcome, daemon_children, heavy_lock, is_gone, json_pid, poll_until, replace_file,
    require_daemon, send_signal,
};
use common::http::{self, Request};
use common::{Artifact, TestServer, pseudo_random, sha256_hex};

const LOG_WAIT: Duration = Duration::from_secs(5);

/// POSTs a pseudo-random body (its size and seed from `client`, `seq`) to
/// the echo app at `prefix` and checks what it says it got; the pid that
/// served it.
fn echo_job(addr: std::net::SocketAddr, prefix: &str, client: usize, seq: usize) -> Outcome {
    let len = (client * 7919 + seq * 104_729) % 50_000;
    let body = pseudo_random(len, (client * 100_000 + seq) as u64);
    let target = format!("{prefix}/{client}/{seq}");
    let resp = match http::send(addr, &Request::post(&target).body(body.clone())) {
        Ok(resp) => resp,
        Err(e) => {
            return Outcome::Failed {
                status: None,
                why: format!("{target}: {e}"),
            };
        }
    };
    let fail = |why: String| Outcome::Failed {
        status: Some(resp.status()),
        why: format!("{target}: {why}"),
    };
    if resp.status() != 200 {
        return fail(resp.text());
    }
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&resp.body) else {
        return fail(format!("not JSON: {}", resp.text()));
    };
    if v["body_len"].as_u64() != Some(len as u64) {
        return fail(format!("body_len {} instead of {len}", v["body_len"]));
    }
    let sha = v["body_sha256"].as_str().unwrap_or("").to_ascii_lowercase();
    if sha != sha256_hex(&body) {
        return fail(format!("body_sha256 {sha} is wrong"));
    }
    if v["path_info"].as_str() != Some(&format!("/{client}/{seq}")) {
        return fail(format!("path_info {}", v["path_info"]));
    }
    Outcome::Ok {
        pid: v["pid"].as_u64(),
    }
}

/// GETs `/s/sleep?ms=300` (the faults app): a request that is still in
/// flight when processes are replaced.
fn slow_job(addr: std::net::SocketAddr) -> Outcome {
    let target = "/s/sleep?ms=300";
    match http::send(addr, &Request::get(target)) {
        Ok(r) if r.status() == 200 && r.text() == "slept 300" => Outcome::Ok { pid: None },
        Ok(r) => Outcome::Failed {
            status: Some(r.status()),
            why: format!("{target}: {}", r.text()),
        },
        Err(e) => Outcome::Failed {
            status: None,
            why: format!("{target}: {e}"),
        },
    }
}

/// Clients of [`Load`]s with slow requests: the first ones send quick
/// requests, the last [`SLOW_CLIENTS`] slow ones.
const SLOW_CLIENTS: usize = 2;

#[test]
fn maximum_requests_recycles_under_load_without_failures() {
    require_daemon();
    let _heavy = heavy_lock();
    let srv = TestServer::builder()
        .app(Artifact::Echo)
        .config(
            "RustgiDaemonProcess recycle processes=2 threads=4 maximum-requests=20 \
             graceful-timeout=5 home=@ROOT@\n\
             RustgiScriptAlias /e @APPS@/libecho.so process-group=recycle",
        )
        .start();
    let addr = srv.addr();
    let started = Instant::now();
    let load = Load::start(8, 40, move |c, i| echo_job(addr, "/e", c, i));
    let report = load.join();
    let took = started.elapsed();
    let per_pid = report.per_pid();
    eprintln!(
        "maximum-requests: {} requests in {took:?}, {} processes: {per_pid:?}",
        report.total(),
        per_pid.len()
    );
    assert_eq!(report.total(), 320);
    assert!(
        report.failures().is_empty(),
        "{} of 320 requests failed:\n{}",
        report.failures().len(),
        report.describe_failures(started)
    );
    for (pid, n) in &per_pid {
        assert!(
            *n <= 20,
            "process {pid} served {n} requests, maximum-requests=20"
        );
    }
    assert!(
        per_pid.len() >= 16,
        "320 requests at 20 a process need 16 processes; served by {per_pid:?}"
    );
    srv.wait_for_log_line(&["recycling", "(maximum-requests)"], LOG_WAIT);
}

/// GETs `/k/sleep?ms=50` or `/k/pid`, alternately.
fn kill_job(addr: std::net::SocketAddr, seq: usize) -> Outcome {
    let target = if seq % 2 == 0 {
        "/k/sleep?ms=50"
    } else {
        "/k/pid"
    };
    match http::send(addr, &Request::get(target)) {
        Err(e) => Outcome::Failed {
            status: None,
            why: format!("{target}: {e}"),
        },
        Ok(resp) if resp.status() != 200 => Outcome::Failed {
            status: Some(resp.status()),
            why: format!("{target}: {}", resp.text()),
        },
        Ok(resp) if seq % 2 == 0 => {
            if resp.text() == "slept 50" {
                Outcome::Ok { pid: None }
            } else {
                Outcome::Failed {
                    status: Some(200),
                    why: format!("{target}: {}", resp.text()),
                }
            }
        }
        Ok(resp) => Outcome::Ok {
            pid: json_pid(&resp),
        },
    }
}

#[test]
fn sigkill_under_load_fails_only_requests_in_flight_and_the_group_recovers() {
    require_daemon();
    let _heavy = heavy_lock();
    let srv = TestServer::builder()
        .app(Artifact::Faults)
        .config(
            "RustgiDaemonProcess kill processes=1 threads=4 home=@ROOT@\n\
             RustgiScriptAlias /k @APPS@/libfaults.so process-group=kill",
        )
        .start();
    let addr = srv.addr();
    let clients = 6;
    let load = Load::start(clients, 100_000, move |_, i| kill_job(addr, i));
    assert!(
        load.wait_completed(30, Duration::from_secs(20)),
        "the load did not get going"
    );
    let warmup = load.samples();
    assert!(
        warmup.iter().all(|s| s.is_ok()),
        "requests failed before the kill: {warmup:?}"
    );

    let resp = srv.get("/k/pid");
    assert_eq!(resp.status(), 200, "{}", resp.text());
    let victim = json_pid(&resp).expect("pid");
    send_signal(u32::try_from(victim).unwrap(), libc::SIGKILL);
    let killed_at = Instant::now();

    // The time to the first 200 after the kill, polling from here.
    let mut attempts = Vec::new();
    let recovered = loop {
        let resp = http::send(addr, &Request::get("/k/pid"));
        let now = Instant::now();
        match resp {
            Ok(r) if r.status() == 200 => break Some((now - killed_at, json_pid(&r))),
            Ok(r) => attempts.push(format!("{}: {}", r.status(), r.text())),
            Err(e) => attempts.push(e.to_string()),
        }
        if now - killed_at > Duration::from_secs(10) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // Some more load on the new process, then stop.
    let after = load.completed();
    load.wait_completed(after + 30, Duration::from_secs(10));
    let report = load.stop();

    let Some((to_first_200, new_pid)) = recovered else {
        panic!("no 200 within 10 s of the kill; the attempts: {attempts:?}");
    };
    eprintln!(
        "SIGKILL: first 200 after {to_first_200:?}; {} requests, {} failed:\n{}",
        report.total(),
        report.failures().len(),
        report.describe_failures(killed_at)
    );
    assert!(
        to_first_200 <= Duration::from_secs(2),
        "the group served its first 200 only {to_first_200:?} after the kill \
         (attempts before: {attempts:?})"
    );
    assert_ne!(new_pid, Some(victim), "the killed process answered");

    let failures = report.failures();
    assert!(
        failures.len() <= clients,
        "{} requests failed, more than the {clients} that can have been in flight:\n{}",
        failures.len(),
        report.describe_failures(killed_at)
    );
    let slack = Duration::from_millis(100);
    for f in &failures {
        assert!(
            f.start <= killed_at + slack && f.end >= killed_at,
            "a request that was not in flight at the kill failed:\n{}",
            report.describe_failures(killed_at)
        );
        assert_eq!(
            f.status(),
            Some(502),
            "a request in flight when its process died gets 502:\n{}",
            report.describe_failures(killed_at)
        );
    }
    let later: BTreeSet<u64> = report
        .samples
        .iter()
        .filter(|s| s.start > killed_at + slack)
        .filter_map(|s| s.pid())
        .collect();
    assert!(
        !later.contains(&victim),
        "the killed process {victim} served requests started after the kill"
    );
    srv.wait_for_log_line(
        &[&format!(
            "group kill: process {victim} killed by signal 9 (SIGKILL); starting a new one"
        )],
        LOG_WAIT,
    );
}

#[test]
fn graceful_restart_under_load_replaces_the_processes_without_failures() {
    require_daemon();
    let _heavy = heavy_lock();
    let srv = TestServer::builder()
        .app(Artifact::Echo)
        .app(Artifact::Faults)
        .config(
            "RustgiDaemonProcess grace processes=2 threads=4 graceful-timeout=5 home=@ROOT@\n\
             RustgiScriptAlias /e @APPS@/libecho.so process-group=grace\n\
             RustgiScriptAlias /s @APPS@/libfaults.so process-group=grace",
        )
        .start();
    let addr = srv.addr();
    let apache = srv.apache_pid();
    let old: BTreeSet<u64> = daemon_children(apache).into_iter().map(u64::from).collect();
    assert_eq!(old.len(), 2, "processes=2: {old:?}");

    let started = Instant::now();
    let load = Load::start(6 + SLOW_CLIENTS, 100_000, move |c, i| {
        if c < 6 {
            echo_job(addr, "/e", c, i)
        } else {
            slow_job(addr)
        }
    });
    assert!(
        load.wait_completed(30, Duration::from_secs(20)),
        "the load did not get going"
    );
    send_signal(apache, libc::SIGUSR1);
    let signalled = Instant::now();
    srv.wait_for_log("SIGUSR1 received", LOG_WAIT);

    // Load on until new processes have served for a while.
    let new_served = poll_until(Duration::from_secs(20), Duration::from_millis(20), || {
        load.samples()
            .iter()
            .any(|s| s.start > signalled && s.pid().is_some_and(|p| !old.contains(&p)))
            .then_some(())
    });
    // And through Apache's own children being replaced (they finish their
    // connections first): keep the load on for a while.
    let until = signalled + Duration::from_millis(1500);
    if let Some(rest) = until.checked_duration_since(Instant::now()) {
        std::thread::sleep(rest);
    }
    let after = load.completed();
    load.wait_completed(after + 40, Duration::from_secs(10));
    let report = load.stop();
    eprintln!(
        "graceful: {} requests in {:?}, pids {:?} (old {old:?})",
        report.total(),
        started.elapsed(),
        report.per_pid()
    );
    assert!(
        report.failures().is_empty(),
        "{} of {} requests failed across the graceful restart (at +{:.3}s):\n{}",
        report.failures().len(),
        report.total(),
        (signalled - started).as_secs_f64(),
        report.describe_failures(signalled)
    );
    assert!(
        new_served.is_some(),
        "no new process served within 20 s of the graceful restart: {:?}",
        report.per_pid()
    );
    // The old processes finish and exit (graceful-timeout=5).
    for &pid in &old {
        let pid = u32::try_from(pid).unwrap();
        assert!(
            poll_until(Duration::from_secs(10), Duration::from_millis(50), || {
                is_gone(pid).then_some(())
            })
            .is_some(),
            "process {pid} of the old generation still runs 10 s after the graceful restart"
        );
    }
    let resp = srv.get("/e/after");
    assert_eq!(resp.status(), 200, "{}", resp.text());
    let pid = json_pid(&resp).expect("pid");
    assert!(!old.contains(&pid), "pid {pid} is from before the restart");
    let now: BTreeSet<u64> = daemon_children(apache).into_iter().map(u64::from).collect();
    assert_eq!(now.len(), 2, "processes=2 after the restart: {now:?}");
    assert!(now.is_disjoint(&old), "old {old:?}, now {now:?}");
}

/// Which app answered `/app/pid`: the echo app (its JSON has `environ`) or
/// the faults app (`{pid, uid, gid, cwd}`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Which {
    Echo,
    Faults,
}

#[test]
fn replacing_the_app_file_under_load_reloads_without_failures() {
    require_daemon();
    let _heavy = heavy_lock();
    let mut b = TestServer::builder().app(Artifact::Faults);
    let app = b.add_app(Artifact::Echo);
    let srv = b
        .config(
            "RustgiScriptReloading On\n\
             RustgiDaemonProcess reload processes=2 threads=4 graceful-timeout=5 home=@ROOT@\n\
             RustgiScriptAlias /app @APPS@/libecho.so process-group=reload\n\
             RustgiScriptAlias /s @APPS@/libfaults.so process-group=reload",
        )
        .start();
    let addr = srv.addr();
    let apache = srv.apache_pid();
    let old: BTreeSet<u64> = daemon_children(apache).into_iter().map(u64::from).collect();

    let answers: Arc<Mutex<Vec<(Instant, Which, u64)>>> = Arc::default();
    let record = answers.clone();
    let started = Instant::now();
    let load = Load::start(6 + SLOW_CLIENTS, 100_000, move |c, _| {
        if c >= 6 {
            return slow_job(addr);
        }
        let resp = match http::send(addr, &Request::get("/app/pid")) {
            Ok(r) => r,
            Err(e) => {
                return Outcome::Failed {
                    status: None,
                    why: e.to_string(),
                };
            }
        };
        let v: Option<serde_json::Value> = serde_json::from_slice(&resp.body).ok();
        let pid = v.as_ref().and_then(|v| v["pid"].as_u64());
        let which = v.as_ref().map(|v| {
            if v.get("environ").is_some() {
                Which::Echo
            } else {
                Which::Faults
            }
        });
        match (resp.status(), pid, which) {
            (200, Some(pid), Some(which)) => {
                record.lock().unwrap().push((Instant::now(), which, pid));
                Outcome::Ok { pid: Some(pid) }
            }
            (status, _, _) => Outcome::Failed {
                status: Some(status),
                why: resp.text(),
            },
        }
    });
    assert!(
        load.wait_completed(30, Duration::from_secs(20)),
        "the load did not get going"
    );
    // Deploy: a different app written beside the old file and renamed over
    // it.
    let new_app = std::fs::read(Artifact::Faults.path()).expect("read libfaults.so");
    replace_file(&app, &new_app);
    let replaced = Instant::now();

    let switched = poll_until(Duration::from_secs(20), Duration::from_millis(20), || {
        answers
            .lock()
            .unwrap()
            .iter()
            .find(|(_, which, _)| *which == Which::Faults)
            .map(|(t, _, _)| *t - replaced)
    });
    let after = load.completed();
    load.wait_completed(after + 40, Duration::from_secs(10));
    let report = load.stop();
    eprintln!(
        "reloading: {} requests in {:?}; new code served {switched:?} after the rename; pids {:?}",
        report.total(),
        started.elapsed(),
        report.per_pid()
    );
    assert!(
        report.failures().is_empty(),
        "{} of {} requests failed across the reload:\n{}",
        report.failures().len(),
        report.total(),
        report.describe_failures(replaced)
    );
    assert!(
        switched.is_some(),
        "the new app did not serve within 20 s of replacing the file"
    );
    let answers = answers.lock().unwrap().clone();
    for (_, which, pid) in &answers {
        if *which == Which::Faults {
            assert!(
                !old.contains(pid),
                "the new code answered from old process {pid}"
            );
        }
    }
    let resp = srv.get("/app/pid");
    assert_eq!(resp.status(), 200, "{}", resp.text());
    let v = resp.json();
    assert!(v.get("environ").is_none(), "the old app still answers: {v}");
    let pid = v["pid"].as_u64().expect("pid");
    assert!(!old.contains(&pid), "pid {pid} is from before the reload");
}

/// The pid that serves `target` (an app that answers `{"pid": …}`).
fn pid_of(srv: &TestServer, target: &str) -> u64 {
    let resp = srv.get(target);
    assert_eq!(resp.status(), 200, "{target}: {}", resp.text());
    json_pid(&resp).unwrap_or_else(|| panic!("{target}: {}", resp.text()))
}

/// Script reloading never swaps working processes for a file that cannot
/// load: a file that is not an app renamed over the app is refused, a file
/// gone for a moment is waited for, the old processes serve meanwhile (no
/// failed request), and a usable file then reloads. Only the group that
/// serves the changed app restarts.
#[test]
fn a_bad_or_missing_app_file_is_not_reloaded_and_other_groups_stay() {
    require_daemon();
    let _heavy = heavy_lock();
    let mut b = TestServer::builder();
    let app = b.add_app(Artifact::Faults);
    b.add_app(Artifact::Echo);
    let srv = b
        .config(
            "RustgiScriptReloading On\n\
             RustgiDaemonProcess reload processes=1 threads=4 graceful-timeout=5 home=@ROOT@\n\
             RustgiDaemonProcess other processes=1 threads=2 home=@ROOT@\n\
             RustgiScriptAlias /f @APPS@/libfaults.so process-group=reload\n\
             RustgiScriptAlias /o @APPS@/libecho.so process-group=other",
        )
        .start();
    let addr = srv.addr();
    let before = pid_of(&srv, "/f/pid");
    let other = pid_of(&srv, "/o/pid");
    let load = Load::start(4, 100_000, move |_, _| {
        match http::send(addr, &Request::get("/f/")) {
            Ok(r) if r.status() == 200 && r.text() == "ok" => Outcome::Ok { pid: None },
            Ok(r) => Outcome::Failed {
                status: Some(r.status()),
                why: r.text(),
            },
            Err(e) => Outcome::Failed {
                status: None,
                why: e.to_string(),
            },
        }
    });
    assert!(load.wait_completed(20, Duration::from_secs(20)), "no load");

    // Something that is not an app, renamed over it.
    replace_file(&app, b"#!/bin/sh\necho not an app\n");
    srv.wait_for_log_line(
        &[
            "group reload",
            "libfaults.so changed but cannot be used",
            "not a shared library",
        ],
        LOG_WAIT,
    );
    let at = load.completed();
    assert!(load.wait_completed(at + 20, Duration::from_secs(10)));
    assert_eq!(
        pid_of(&srv, "/f/pid"),
        before,
        "the process was not replaced"
    );

    // Gone for a moment (rm, then cp).
    std::fs::remove_file(&app).unwrap();
    srv.wait_for_log_line(&["group reload", "libfaults.so is missing"], LOG_WAIT);
    let at = load.completed();
    assert!(load.wait_completed(at + 20, Duration::from_secs(10)));
    assert_eq!(
        pid_of(&srv, "/f/pid"),
        before,
        "the process was not replaced"
    );

    // A process that starts meanwhile (here a recycle) waits for a usable
    // file instead of failing; requests wait for it in the queue.
    send_signal(u32::try_from(before).unwrap(), libc::SIGUSR1);
    srv.wait_for_log_line(
        &[
            "group reload",
            "libfaults.so cannot be used now",
            "waiting for a usable one",
        ],
        LOG_WAIT,
    );

    // Back, usable: the waiting process loads it and serves.
    replace_file(&app, &std::fs::read(Artifact::Faults.path()).unwrap());
    let replaced = poll_until(Duration::from_secs(10), Duration::from_millis(100), || {
        let pid = pid_of(&srv, "/f/pid");
        (pid != before).then_some(pid)
    });
    let report = load.stop();
    assert!(
        replaced.is_some(),
        "the usable file was not loaded\n{}",
        srv.error_log()
    );
    assert!(
        report.failures().is_empty(),
        "{} of {} requests failed:\n{}",
        report.failures().len(),
        report.total(),
        report.describe_failures(Instant::now())
    );
    assert_eq!(
        pid_of(&srv, "/o/pid"),
        other,
        "the group serving another app was restarted"
    );
}

/// Whether `pid` has a handler for `signal` (`SigCgt` in /proc).
fn catches(pid: u32, signal: i32) -> bool {
    let status = common::daemon::proc_status(pid).expect("the process's status");
    let mask = u64::from_str_radix(status.get("SigCgt").expect("SigCgt"), 16).expect("hex");
    mask & (1 << (signal - 1)) != 0
}

/// `processes=1 threads=1 maximum-requests=1`, a development setting of
/// mod_wsgi users: a new process for every request, none failed, and the
/// replacement starts as soon as its predecessor has left (Apache's parent
/// wakes on SIGCHLD instead of its one-second tick).
#[test]
fn maximum_requests_one_gets_a_new_process_per_request_without_waiting() {
    require_daemon();
    let _heavy = heavy_lock();
    let srv = TestServer::builder()
        .app(Artifact::Faults)
        .config(
            "RustgiDaemonProcess dev processes=1 threads=1 maximum-requests=1 home=@ROOT@\n\
             RustgiScriptAlias /f @APPS@/libfaults.so process-group=dev",
        )
        .start();
    assert!(
        catches(srv.apache_pid(), libc::SIGCHLD),
        "Apache's parent does not wake on SIGCHLD"
    );
    let started = Instant::now();
    let mut pids = BTreeSet::new();
    for i in 0..10 {
        let resp = srv.get("/f/pid");
        assert_eq!(
            resp.status(),
            200,
            "request {i}: {}\n{}",
            resp.text(),
            srv.error_log()
        );
        pids.insert(json_pid(&resp).expect("a pid"));
    }
    eprintln!("maximum-requests=1: 10 requests in {:?}", started.elapsed());
    assert_eq!(pids.len(), 10, "one process per request: {pids:?}");
    // Apache's children do not keep the handler.
    for child in common::daemon::apache_children(srv.apache_pid()) {
        assert!(
            !catches(child, libc::SIGCHLD),
            "child {child} catches SIGCHLD"
        );
    }
}
