//! The status page (`SetHandler rustgi-status`): each group's processes with
//! their figures, the queue, restarts with their reasons; JSON for machines
//! and an HTML page for people, checked in headless Chromium; and its
//! health check (`?health`), for load balancers.

use crate::common;

use std::io::{Read, Write};
use std::process::Command;
use std::thread;
use std::time::Duration;

use common::daemon::{poll_until, require_daemon, send_signal};
use common::http::Request;
use common::{Artifact, TestServer};
use serde_json::Value;

fn server(options: &str) -> TestServer {
    require_daemon();
    TestServer::builder()
        .app(Artifact::Faults)
        .config(&format!(
            "RustgiDaemonProcess shop processes=2 threads=2 home=@ROOT@ {options}\n\
             RustgiScriptAlias /f @APPS@/libfaults.so process-group=shop\n\
             <Location /rustgi-status>\n\
             SetHandler rustgi-status\n\
             Require all granted\n\
             </Location>"
        ))
        .start()
}

fn status(srv: &TestServer) -> Value {
    let resp = srv.get("/rustgi-status?json");
    assert_eq!(resp.status(), 200, "{}", resp.text());
    assert_eq!(resp.header("content-type"), Some("application/json"));
    serde_json::from_slice(&resp.body).expect("the status page's JSON")
}

fn group(v: &Value) -> &Value {
    let groups = v["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 1, "{v}");
    assert_eq!(groups[0]["name"], "shop");
    &groups[0]
}

#[test]
fn processes_requests_and_restarts_are_shown() {
    let srv = server("");
    for _ in 0..10 {
        assert_eq!(srv.get("/f/").status(), 200);
    }
    // The processes rewrite their figures every second.
    let v = poll_until(Duration::from_secs(5), Duration::from_millis(200), || {
        let v = status(&srv);
        let g = group(&v);
        let served: u64 = g["processes"]
            .as_array()?
            .iter()
            .filter_map(|p| p["requests"].as_u64())
            .sum();
        (served >= 10).then_some(v)
    })
    .expect("the page counts the 10 requests");
    let g = group(&v);
    let processes = g["processes"].as_array().unwrap();
    assert_eq!(processes.len(), 2);
    for p in processes {
        assert!(p["pid"].as_u64().unwrap() > 0);
        assert!(p["rss_bytes"].as_u64().unwrap() > 1 << 20, "{p}");
        assert_eq!(p["state"], "serving");
        assert_eq!(p["in_flight"], 0);
        assert!(!p["user"].as_str().unwrap().is_empty());
    }
    assert_eq!(g["queue"], 0);
    assert!(g["restarts"].as_array().unwrap().is_empty());

    let victim = processes[0]["pid"].as_u64().unwrap() as u32;
    send_signal(victim, libc::SIGKILL);
    let v = poll_until(Duration::from_secs(5), Duration::from_millis(200), || {
        let v = status(&srv);
        (!group(&v)["restarts"].as_array()?.is_empty()).then_some(v)
    })
    .expect("the restart is listed");
    let restart = &group(&v)["restarts"][0];
    assert_eq!(restart["pid"].as_u64(), Some(u64::from(victim)));
    assert_eq!(restart["reason"], "killed by signal 9 (SIGKILL)");
    let pids: Vec<u64> = group(&v)["processes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["pid"].as_u64())
        .collect();
    assert!(!pids.contains(&u64::from(victim)), "{pids:?}");
    assert_eq!(pids.len(), 2);
}

#[test]
fn recycling_reasons_come_from_the_process() {
    let srv = server("maximum-requests=3");
    let reason = poll_until(Duration::from_secs(10), Duration::from_millis(100), || {
        assert_eq!(srv.get("/f/").status(), 200);
        let v = status(&srv);
        let restarts = group(&v)["restarts"].as_array()?.clone();
        restarts
            .first()
            .map(|r| r["reason"].as_str().unwrap_or("").to_owned())
    })
    .expect("a recycle is listed");
    assert!(reason.contains("(maximum-requests)"), "{reason}");
    assert!(reason.contains("exited with status 0"), "{reason}");
}

#[test]
fn the_queue_and_requests_in_flight_are_counted() {
    let srv = server("queue-timeout=30");
    let addr = srv.addr();
    // Two processes × two threads: four sleepers fill them, two more wait.
    let sleepers: Vec<_> = (0..6)
        .map(|_| {
            thread::spawn(move || {
                common::http::send(addr, &Request::get("/f/sleep?ms=2500")).map(|r| r.status())
            })
        })
        .collect();
    let (in_flight, queue) = poll_until(Duration::from_secs(2), Duration::from_millis(50), || {
        let v = status(&srv);
        let g = group(&v);
        let in_flight: u64 = g["processes"]
            .as_array()?
            .iter()
            .filter_map(|p| p["in_flight"].as_u64())
            .sum();
        let queue = g["queue"].as_u64()?;
        (in_flight == 4 && queue == 2).then_some((in_flight, queue))
    })
    .expect("four requests in flight and two queued");
    assert_eq!((in_flight, queue), (4, 2));
    for s in sleepers {
        assert_eq!(s.join().unwrap().unwrap(), 200);
    }
}

#[test]
fn only_get_and_head() {
    let srv = server("");
    let resp = srv.send(&Request::post("/rustgi-status").body(b"x".to_vec()));
    assert_eq!(resp.status(), 405);
    let head = srv.send(&Request::head("/rustgi-status"));
    assert_eq!(head.status(), 200);
    assert!(head.body.is_empty());
}

/// The HTML page, as a person sees it: rendered by headless Chromium, which
/// also takes a screenshot (kept in the server root while the test runs).
#[test]
fn html_page_renders_in_chromium() {
    let srv = server("");
    assert_eq!(srv.get("/f/").status(), 200);
    let html = srv.get("/rustgi-status");
    assert_eq!(html.status(), 200);
    assert!(
        html.header("content-type")
            .unwrap_or_default()
            .starts_with("text/html")
    );
    assert!(html.text().contains("Group shop"), "{}", html.text());

    let Some(chromium) = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
    else {
        // CI installs chromium (.ci/run); a developer machine may not have it.
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium is missing in CI"
        );
        eprintln!("SKIPPED: chromium is not installed (apt-get install chromium)");
        return;
    };
    let shot = srv.root().join("status.png");
    let profile = srv.root().join("chromium-profile");
    let common_args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1000,700",
    ];
    let url = srv.url("/rustgi-status");
    let dom = Command::new(chromium)
        .args(common_args)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("running chromium");
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(
        dom.contains("mod_rustgi status") && dom.contains("Group shop"),
        "{dom}"
    );
    assert!(dom.contains("<table>"), "{dom}");
    let out = Command::new(chromium)
        .args(common_args)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .output()
        .expect("running chromium");
    let png = std::fs::read(&shot).unwrap_or_else(|e| {
        panic!(
            "no screenshot ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(png.len() > 5_000, "a blank page? {} bytes", png.len());
}

/// The health check's answer: its status and JSON.
fn health(srv: &TestServer) -> (u16, Value) {
    let resp = srv.get("/rustgi-status?health");
    assert_eq!(
        resp.header("content-type"),
        Some("application/json"),
        "{}",
        resp.text()
    );
    assert_eq!(resp.header("cache-control"), Some("no-store"));
    let json = serde_json::from_slice(&resp.body)
        .unwrap_or_else(|e| panic!("the health check's JSON: {e}: {}", resp.text()));
    (resp.status(), json)
}

/// Polls the health check until `want` says yes; the last answer.
fn health_until(srv: &TestServer, wait: Duration, want: impl Fn(u16, &Value) -> bool) -> Value {
    let mut last = None;
    poll_until(wait, Duration::from_millis(100), || {
        let (status, json) = health(srv);
        let hit = want(status, &json);
        last = Some((status, json.clone()));
        hit.then_some(json)
    })
    .unwrap_or_else(|| panic!("the health check never said so; last: {last:?}"))
}

#[test]
fn health_is_200_when_every_group_serves_and_names_one_that_cannot() {
    let srv = server("");
    let ok = health_until(&srv, Duration::from_secs(10), |status, _| status == 200);
    assert_eq!(
        ok,
        serde_json::json!({"status": "ok", "groups": {"shop": "ok"}})
    );
    let head = srv.send(&Request::head("/rustgi-status?health"));
    assert_eq!(head.status(), 200);
    assert!(head.body.is_empty());

    let broken = TestServer::builder()
        .app(Artifact::Faults)
        .app(Artifact::Echo)
        .config(
            "RustgiDaemonProcess shop processes=1 threads=2 home=@ROOT@\n\
             RustgiDaemonProcess broken processes=1 threads=2 home=@ROOT@\n\
             RustgiScriptAlias /f @APPS@/libfaults.so process-group=shop\n\
             RustgiAppConfig fail_init \"no secret_key\"\n\
             RustgiScriptAlias /e @APPS@/libecho.so process-group=broken\n\
             <Location /rustgi-status>\n    SetHandler rustgi-status\n    Require all granted\n</Location>",
        )
        .start();
    let down = health_until(&broken, Duration::from_secs(10), |status, json| {
        status == 503
            && json["reason"]
                .as_str()
                .unwrap_or("")
                .contains("cannot start")
    });
    assert_eq!(down["status"], "unavailable");
    assert_eq!(down["group"], "broken", "{down}");
    let reason = down["reason"].as_str().unwrap();
    assert!(reason.contains("no secret_key"), "{down}");
    assert_eq!(down["groups"]["broken"], reason);
    assert_eq!(down["groups"]["shop"], "ok", "{down}");
    // The healthy group still serves: the check speaks for the host.
    assert_eq!(broken.get("/f/").status(), 200);
}

#[test]
fn health_is_503_while_requests_wait_past_queue_timeout() {
    let srv = server("queue-timeout=2");
    health_until(&srv, Duration::from_secs(10), |status, _| status == 200);
    let addr = srv.addr();
    // Two processes × two threads: four sleepers hold every thread, two
    // more wait in the queue past queue-timeout.
    let requests: Vec<_> = (0..6)
        .map(|i| {
            thread::spawn(move || {
                if i >= 4 {
                    thread::sleep(Duration::from_millis(300));
                }
                common::http::send(addr, &Request::get("/f/sleep?ms=6000")).map(|r| r.status())
            })
        })
        .collect();
    let down = health_until(&srv, Duration::from_secs(6), |status, _| status == 503);
    assert_eq!(down["status"], "unavailable", "{down}");
    assert_eq!(down["group"], "shop", "{down}");
    let reason = down["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("queue past queue-timeout (2 s)"),
        "{down}"
    );
    let statuses: Vec<u16> = requests
        .into_iter()
        .map(|r| r.join().unwrap().expect("a response"))
        .collect();
    assert_eq!(
        statuses.iter().filter(|&&s| s == 200).count(),
        4,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 503).count(),
        2,
        "{statuses:?}"
    );
    // The queue is gone once the threads are free again.
    health_until(&srv, Duration::from_secs(10), |status, _| status == 200);
}

#[test]
fn health_is_503_while_the_drain_file_exists() {
    require_daemon();
    // The drain file is `rustgi-drain` in DefaultRuntimeDir (the server
    // root here). One left by an earlier run is removed when Apache starts:
    // a drain lasts until Apache stops.
    let mut builder = TestServer::builder().app(Artifact::Faults).config(
        "RustgiDaemonProcess shop processes=2 threads=2 home=@ROOT@\n\
         RustgiScriptAlias /f @APPS@/libfaults.so process-group=shop\n\
         <Location /rustgi-status>\n    SetHandler rustgi-status\n    Require all granted\n</Location>",
    );
    let drain = builder.add_file("rustgi-drain", "");
    let srv = builder.start();
    assert!(!drain.exists(), "Apache's start removes an old drain file");
    srv.wait_for_log("removed the drain file", Duration::from_secs(5));
    health_until(&srv, Duration::from_secs(10), |status, _| status == 200);
    std::fs::write(&drain, "").unwrap();
    let (status, json) = health(&srv);
    assert_eq!(status, 503, "{json}");
    assert_eq!(json["status"], "draining");
    assert!(
        json["reason"].as_str().unwrap().contains("drain file"),
        "{json}"
    );
    assert_eq!(json["groups"]["shop"], "ok");
    // Draining asks the balancer to send nothing new; what comes is served.
    assert_eq!(srv.get("/f/").status(), 200);
    std::fs::remove_file(&drain).unwrap();
    let (status, json) = health(&srv);
    assert_eq!((status, json["status"].as_str()), (200, Some("ok")));
}

/// Sends the first half of a health check, has Apache signalled, then the
/// rest: the child reads the request while Apache stops or restarts.
fn health_across_signal(srv: &TestServer, signal: i32) -> (String, Value) {
    let mut conn = common::http::connect(srv.addr()).expect("connect");
    conn.write_all(b"GET /rustgi-status?health HTTP/1.1\r\nHost: localhost\r\n")
        .unwrap();
    thread::sleep(Duration::from_millis(200));
    send_signal(srv.apache_pid(), signal);
    // The children hear of it through Apache's pipe of death.
    thread::sleep(Duration::from_millis(700));
    conn.write_all(b"Connection: close\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).expect("the answer");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
    let json = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {text}"));
    (head.lines().next().unwrap_or("").to_owned(), json)
}

#[test]
fn health_is_503_first_while_apache_stops_gracefully() {
    let srv = server("");
    health_until(&srv, Duration::from_secs(10), |status, _| status == 200);
    let (status_line, json) = health_across_signal(&srv, libc::SIGWINCH);
    assert!(status_line.contains(" 503 "), "{status_line} {json}");
    assert_eq!(json["status"], "stopping", "{json}");
    assert_eq!(json["reason"], "Apache is stopping gracefully");
}

#[test]
fn health_is_503_while_apache_restarts_gracefully() {
    let srv = server("");
    health_until(&srv, Duration::from_secs(10), |status, _| status == 200);
    let (status_line, json) = health_across_signal(&srv, libc::SIGUSR1);
    assert!(status_line.contains(" 503 "), "{status_line} {json}");
    assert_eq!(json["status"], "restarting", "{json}");
    // The new generation answers once its processes serve.
    health_until(&srv, Duration::from_secs(15), |status, _| status == 200);
}
