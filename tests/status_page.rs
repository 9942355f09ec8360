//! The status page (`SetHandler rustgi-status`): each group's processes with
//! their figures, the queue, restarts with their reasons; JSON for machines
//! and an HTML page for people, checked in headless Chromium.

mod common;

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
