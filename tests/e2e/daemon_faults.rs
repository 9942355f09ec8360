//! An app in a daemon group that fails costs only its own request: each
//! fault of the `faults` app gets its status, and the next request is
//! served.

use crate::common;

use std::io::{BufRead, BufReader, Write};
use std::thread;
use std::time::{Duration, Instant};

use common::daemon::{is_gone, json_pid, poll_until, require_daemon};
use common::http::{self, Request};
use common::{Artifact, TestServer};

const LOG_WAIT: Duration = Duration::from_secs(5);

/// A server whose `/f` runs the faults app in group `faults` (one process
/// of four threads), with `options` added to its RustgiDaemonProcess.
fn faults_server(options: &str) -> TestServer {
    require_daemon();
    TestServer::builder()
        .app(Artifact::Faults)
        .config(&format!(
            "RustgiDaemonProcess faults processes=1 threads=4 home=@ROOT@ {options}\n\
             RustgiScriptAlias /f @APPS@/libfaults.so process-group=faults"
        ))
        .start()
}

/// The pid of the process serving `/f` now.
fn daemon_pid(srv: &TestServer) -> u64 {
    let resp = srv.get("/f/pid");
    assert_eq!(resp.status(), 200, "/f/pid: {}", resp.text());
    json_pid(&resp).unwrap_or_else(|| panic!("/f/pid: {}", resp.text()))
}

/// The request right after a fault is served.
fn assert_next_request_ok(srv: &TestServer, after: &str) {
    let resp = srv.get("/f/");
    assert_eq!(
        resp.status(),
        200,
        "the request after {after}: {}",
        resp.text()
    );
    assert_eq!(resp.text(), "ok", "the request after {after}");
}

/// `/f/<fault>` kills its process: 502, the parent logs how it died, and
/// the next request is served by a new process.
fn assert_death(fault: &str, how: &str) {
    let srv = faults_server("");
    let before = daemon_pid(&srv);
    let resp = srv.get(&format!("/f/{fault}"));
    assert_eq!(resp.status(), 502, "/f/{fault}: {}", resp.text());
    assert_next_request_ok(&srv, fault);
    let after = daemon_pid(&srv);
    assert_ne!(after, before, "a new process serves after /f/{fault}");
    srv.wait_for_log_line(
        &[
            &format!("group faults: process {before} {how}"),
            "starting a new one",
        ],
        LOG_WAIT,
    );
    // The Apache child's line names the group and the pid: from the
    // connection (`group faults, pid N: ...`) when the child has served it
    // before, or else from the parent's record of the death (`group faults:
    // ... process N read the request and ended: ...`).
    srv.wait_for_log_match("naming the group and the pid", LOG_WAIT, |l| {
        l.contains("[client ")
            && (l.contains(&format!("group faults, pid {before}:"))
                || (l.contains("group faults: ")
                    && l.contains(&format!("process {before} read the request and ended"))))
    });
}

#[test]
fn panic_is_500_and_the_process_serves_on() {
    let srv = faults_server("");
    let before = daemon_pid(&srv);
    let resp = srv.get("/f/panic");
    assert_eq!(resp.status(), 500, "{}", resp.text());
    srv.wait_for_log("faults panicked on purpose", LOG_WAIT);
    assert_next_request_ok(&srv, "/panic");
    assert_eq!(
        daemon_pid(&srv),
        before,
        "a caught panic must not cost the process"
    );
}

#[test]
fn abort_is_502() {
    assert_death("abort", "killed by signal 6 (SIGABRT)");
}

#[test]
fn segfault_is_502() {
    assert_death("segfault", "killed by signal 11 (SIGSEGV)");
}

#[test]
fn exit_is_502() {
    assert_death("exit", "exited with status 3");
}

#[test]
fn bad_header_is_500() {
    let srv = faults_server("");
    let pid = daemon_pid(&srv);
    let resp = srv.get("/f/bad-header");
    assert_eq!(resp.status(), 500, "{}", resp.text());
    assert!(
        resp.header("Injected").is_none(),
        "the header was injected: {:?}",
        resp.head.headers
    );
    // error_log names the group, the pid and the header.
    srv.wait_for_log_match(
        "naming group faults, its pid and the header x-bad",
        LOG_WAIT,
        |l| {
            l.contains("group faults")
                && l.contains(&pid.to_string())
                && l.to_ascii_lowercase().contains("x-bad")
        },
    );
    assert_next_request_ok(&srv, "/bad-header");
}

#[test]
fn request_timeout_is_504_and_recycles_the_process() {
    let srv = faults_server("request-timeout=1 graceful-timeout=2");
    let before = daemon_pid(&srv);
    let started = Instant::now();
    let resp = srv.get("/f/sleep?ms=3000");
    let took = started.elapsed();
    assert_eq!(resp.status(), 504, "after {took:?}: {}", resp.text());
    assert_next_request_ok(&srv, "/sleep?ms=3000");
    // error_log names the group and the pid.
    srv.wait_for_log_match(
        &format!("about the timeout, naming group faults and pid {before}"),
        LOG_WAIT,
        |l| {
            l.contains("group faults")
                && l.contains(&before.to_string())
                && !l.contains("pids ")
                && l.to_ascii_lowercase().contains("timeout")
        },
    );
    // The process that timed out is recycled.
    let replaced = poll_until(Duration::from_secs(10), Duration::from_millis(100), || {
        let pid = daemon_pid(&srv);
        (pid != before).then_some(pid)
    });
    assert!(
        replaced.is_some(),
        "process {before} still serves 10 s after its request timed out"
    );
}

#[test]
fn spin_is_504_and_the_spinning_process_goes() {
    let srv = faults_server("request-timeout=1 graceful-timeout=2");
    let before = daemon_pid(&srv);
    let resp = srv.get("/f/spin");
    assert_eq!(resp.status(), 504, "{}", resp.text());
    assert_next_request_ok(&srv, "/spin");
    let pid = u32::try_from(before).unwrap();
    // A spinning thread cannot be stopped: its process must be, within
    // graceful-timeout (2 s) and a margin.
    let gone = poll_until(Duration::from_secs(8), Duration::from_millis(100), || {
        is_gone(pid).then_some(())
    });
    assert!(
        gone.is_some(),
        "process {pid}, spinning, still runs 8 s after its request timed out"
    );
    assert_ne!(daemon_pid(&srv), before);
}

#[test]
fn queue_timeout_is_503_with_retry_after() {
    require_daemon();
    let srv = TestServer::builder()
        .app(Artifact::Faults)
        .config(
            "RustgiDaemonProcess queue processes=1 threads=1 queue-timeout=1 \
             request-timeout=30 home=@ROOT@\n\
             RustgiScriptAlias /q @APPS@/libfaults.so process-group=queue",
        )
        .start();
    assert_eq!(srv.get("/q/").status(), 200);
    let addr = srv.addr();
    let slow = thread::spawn(move || http::send(addr, &Request::get("/q/sleep?ms=4000")));
    // Let the only thread take the slow request.
    thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let resp = srv.get("/q/");
    let took = started.elapsed();
    assert_eq!(resp.status(), 503, "after {took:?}: {}", resp.text());
    let retry = resp.header("Retry-After");
    assert!(
        retry.is_some_and(|v| v.trim().parse::<u64>().is_ok()),
        "Retry-After: {retry:?} in {:?}",
        resp.head.headers
    );
    assert!(
        took < Duration::from_millis(3500),
        "the 503 came after {took:?}, not after queue-timeout (1 s)"
    );
    srv.wait_for_log("group queue", LOG_WAIT);
    let slow = slow.join().unwrap().expect("the slow request");
    assert_eq!(slow.status(), 200, "the request in flight: {}", slow.text());
    assert_eq!(slow.text(), "slept 4000");
    let resp = srv.get("/q/");
    assert_eq!(
        resp.status(),
        200,
        "the request after the 503: {}",
        resp.text()
    );
}

#[test]
fn respond_before_read_with_a_big_body() {
    let srv = faults_server("");
    let len = 8usize << 20;
    let mut stream = http::connect(srv.addr()).expect("connect");
    let head = format!(
        "POST /f/respond-before-read HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {len}\r\n\r\n",
        srv.addr()
    );
    stream.write_all(head.as_bytes()).expect("send the head");
    let mut writer = stream.try_clone().expect("clone the stream");
    // The body goes from another thread: the answer comes before the app
    // reads it, so one thread doing both would deadlock.
    let sender = thread::spawn(move || -> std::io::Result<()> {
        let chunk = vec![b'b'; 64 * 1024];
        for _ in 0..len / chunk.len() {
            writer.write_all(&chunk)?;
        }
        writer.flush()
    });
    let mut reader = BufReader::new(stream);
    let resp = http::read_response(&mut reader, "POST")
        .unwrap_or_else(|e| panic!("reading the answer: {e}\nerror_log:\n{}", srv.error_log()));
    let sent = sender.join().unwrap();
    assert_eq!(resp.status(), 200, "{:?}", resp.head);
    assert_eq!(resp.body.len(), 1 << 20, "the answer's length");
    assert!(resp.body.iter().all(|b| *b == b'r'), "the answer's bytes");
    sent.expect("sending the 8 MiB body");
    // The app then read the whole body.
    srv.wait_for_log(
        &format!("respond-before-read: read a request body of {len} bytes"),
        LOG_WAIT,
    );
    assert_next_request_ok(&srv, "/respond-before-read");
}

#[test]
fn a_client_that_waits_for_each_answer_is_not_held_up() {
    // The daemon reads the body ahead while the app works; that must not
    // wait for the client, who here sends its next piece only after the
    // answer to the previous one.
    let srv = faults_server("");
    let mut stream = std::net::TcpStream::connect(srv.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "POST /f/duplex HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut head = None;
    let mut seen = String::new();
    for (answers, piece) in ["one", "three", "fives"].into_iter().enumerate() {
        write!(stream, "{:x}\r\n{piece}\r\n", piece.len()).unwrap();
        // The head comes with the app's first answer.
        if head.is_none() {
            head = Some(http::read_head(&mut reader).unwrap_or_else(|e| {
                panic!("no response head: {e}\nerror_log:\n{}", srv.error_log())
            }));
        }
        // The answer comes in a chunk of the chunked response.
        while seen.lines().count() <= answers {
            let mut line = String::new();
            let n = reader.read_line(&mut line).unwrap_or_else(|e| {
                panic!(
                    "no answer to {piece:?} (seen {seen:?}): {e}\nerror_log:\n{}",
                    srv.error_log()
                )
            });
            assert!(n > 0, "the response ended early: {seen:?}");
            if line.starts_with("got ") || line.starts_with("end") {
                seen.push_str(&line);
            }
        }
    }
    write!(stream, "0\r\n\r\n").unwrap();
    let mut line = String::new();
    while !line.starts_with("end") {
        line.clear();
        assert!(reader.read_line(&mut line).unwrap() > 0, "no end: {seen:?}");
    }
    assert_eq!(head.map(|h| h.status), Some(200));
    assert_eq!(seen, "got 3\ngot 5\ngot 5\n");
}

#[test]
fn requests_queued_on_a_process_that_dies_are_served_by_the_next() {
    // One thread: while it runs a slow request, the others wait unread (on
    // connections the Apache children kept, or in the socket's backlog).
    // When the process dies, the slow one gets 502 (its app may have run);
    // the unread ones are sent again and served by the new process.
    require_daemon();
    let srv = TestServer::builder()
        .app(Artifact::Faults)
        .config(
            "RustgiDaemonProcess one processes=1 threads=1 home=@ROOT@\n\
             RustgiScriptAlias /o @APPS@/libfaults.so process-group=one",
        )
        .start();
    let addr = srv.addr();
    // Six requests at once first, so that the Apache child keeps six
    // connections to the process: the queued requests below go on them.
    let warmup: Vec<_> = (0..6)
        .map(|_| thread::spawn(move || http::send(addr, &Request::get("/o/pid"))))
        .collect();
    let mut victim = 0;
    for w in warmup {
        let resp = w.join().unwrap().unwrap();
        assert_eq!(resp.status(), 200, "{}", resp.text());
        victim = json_pid(&resp).unwrap();
    }
    let slow = thread::spawn(move || http::send(addr, &Request::get("/o/sleep?ms=4000")));
    // Long enough for the slow request's ACCEPTED (sent alone after 0.25 s).
    thread::sleep(Duration::from_millis(1000));
    let queued: Vec<_> = (0..4)
        .map(|_| thread::spawn(move || http::send(addr, &Request::get("/o/pid"))))
        .collect();
    // One that, sent again, kills the next process before any answer.
    let exit = thread::spawn(move || http::send(addr, &Request::get("/o/exit")));
    thread::sleep(Duration::from_millis(300));
    common::daemon::send_signal(u32::try_from(victim).unwrap(), libc::SIGKILL);

    let slow = slow.join().unwrap().unwrap();
    assert_eq!(slow.status(), 502, "{}", slow.text());
    let exit = exit.join().unwrap().unwrap();
    assert_eq!(exit.status(), 502, "{}", exit.text());
    for q in queued {
        let resp = q.join().unwrap().unwrap();
        assert_eq!(
            resp.status(),
            200,
            "a queued request: {}\nerror_log:\n{}",
            resp.text(),
            srv.error_log()
        );
        let pid = json_pid(&resp).unwrap();
        assert_ne!(pid, victim, "served by the killed process");
    }
    srv.wait_for_log_line(
        &[&format!(
            "group one, pid {victim}: process {victim} closed the connection"
        )],
        LOG_WAIT,
    );
    // The request sent again is logged without the killed process's pid:
    // a new process read it.
    srv.wait_for_log_line(
        &["group one: the connection ended before any answer"],
        LOG_WAIT,
    );
    let log = srv.error_log();
    assert!(
        !log.contains(&format!(
            "pid {victim}: the connection ended before any answer"
        )),
        "a request sent again was blamed on the killed process:\n{log}"
    );
}

#[test]
fn kept_connections_to_a_process_that_is_gone_are_replaced_unnoticed() {
    // The Apache child keeps its connections to a process and reuses them
    // without checking. When the process is gone, writing a request on one
    // fails at once, and the request goes out again on a new connection:
    // no request fails and nothing is logged for it.
    let srv = faults_server("");
    let addr = srv.addr();
    let served = |n: usize| -> Vec<u64> {
        let clients: Vec<_> = (0..n)
            .map(|_| thread::spawn(move || http::send(addr, &Request::get("/f/pid"))))
            .collect();
        clients
            .into_iter()
            .map(|c| {
                let resp = c.join().unwrap().unwrap();
                assert_eq!(resp.status(), 200, "{}\n{}", resp.text(), srv.error_log());
                json_pid(&resp).unwrap()
            })
            .collect()
    };
    // Four at once: the child keeps four connections to the process.
    let victim = served(4)[0];
    let log_before = srv.error_log().lines().count();
    let victim_pid = u32::try_from(victim).unwrap();
    common::daemon::send_signal(victim_pid, libc::SIGKILL);
    let gone = poll_until(LOG_WAIT, Duration::from_millis(20), || {
        is_gone(victim_pid).then_some(())
    });
    assert!(gone.is_some(), "process {victim} still there after SIGKILL");
    for round in 0..3 {
        for pid in served(4) {
            assert_ne!(pid, victim, "round {round}: served by the killed process");
        }
    }
    let log = srv.error_log();
    let request_errors: Vec<&str> = log
        .lines()
        .skip(log_before)
        .filter(|line| line.contains("group faults, pid") || line.contains("cannot send"))
        .collect();
    assert!(
        request_errors.is_empty(),
        "requests on the dead process's connections were logged:\n{log}"
    );
}

/// request-timeout measures the app's own time: an upload at 5 KB/s that
/// takes twice the request-timeout succeeds, and its process is not
/// recycled (the client's pace is Apache's business: Timeout,
/// mod_reqtimeout).
#[test]
fn a_slow_upload_is_not_a_request_timeout() {
    let srv = faults_server("request-timeout=3 graceful-timeout=2");
    let before = daemon_pid(&srv);
    let total = 30_000;
    let mut stream = http::connect(srv.addr()).expect("connect");
    write!(
        stream,
        "POST /f/upload HTTP/1.1\r\nHost: {}\r\nContent-Length: {total}\r\n\
         Connection: close\r\n\r\n",
        srv.addr()
    )
    .unwrap();
    let piece = vec![b'x'; 1000];
    let started = Instant::now();
    for _ in 0..total / piece.len() {
        stream
            .write_all(&piece)
            .expect("send a piece of the upload");
        thread::sleep(Duration::from_millis(200));
    }
    let took = started.elapsed();
    assert!(took > Duration::from_secs(5), "the upload took {took:?}");
    let resp = http::read_response(&mut BufReader::new(stream), "POST").expect("a response");
    assert_eq!(
        resp.status(),
        200,
        "after {took:?}: {}\n{}",
        resp.text(),
        srv.error_log()
    );
    assert_eq!(resp.json()["len"], total);
    assert_eq!(daemon_pid(&srv), before, "the process was not recycled");
    assert!(
        !srv.error_log().contains("request-timeout"),
        "{}",
        srv.error_log()
    );
}

/// A group whose app cannot start (its init fails) answers 503 with
/// Retry-After at once, naming the cause, instead of holding each request
/// for queue-timeout; another site stays served; the status page says why.
#[test]
fn a_group_that_cannot_start_answers_503_at_once() {
    require_daemon();
    let srv = TestServer::builder()
        .app(Artifact::Echo)
        .app(Artifact::Faults)
        .config(
            "RustgiDaemonProcess broken processes=1 threads=2 queue-timeout=60 home=@ROOT@\n\
             RustgiDaemonProcess good processes=1 threads=2 home=@ROOT@\n\
             <Location /rustgi-status>\n    SetHandler rustgi-status\n    Require all granted\n</Location>\n\
             <VirtualHost *:@PORT@>\n\
             \x20   ServerName good.test\n\
             \x20   RustgiScriptAlias /app @APPS@/libfaults.so process-group=good\n\
             </VirtualHost>\n\
             <VirtualHost *:@PORT@>\n\
             \x20   ServerName broken.test\n\
             \x20   RustgiAppConfig fail_init \"no secret_key: set RustgiAppConfig secret_key\"\n\
             \x20   RustgiScriptAlias /app @APPS@/libecho.so process-group=broken\n\
             </VirtualHost>",
        )
        .start();
    srv.wait_for_log_line(
        &["group broken: process", "its init failed", "no secret_key"],
        LOG_WAIT,
    );
    let addr = srv.addr();
    let broken: Vec<_> = (0..20)
        .map(|_| {
            thread::spawn(move || {
                http::send(addr, &Request::get("/app/x").header("Host", "broken.test"))
                    .expect("a response")
            })
        })
        .collect();
    for _ in 0..5 {
        let resp = srv.send(&Request::get("/app/").header("Host", "good.test"));
        assert_eq!(resp.status(), 200, "the other site: {}", resp.text());
    }
    for request in broken {
        let resp = request.join().unwrap();
        assert_eq!(resp.status(), 503, "{}", resp.text());
        assert_eq!(resp.header("Retry-After"), Some("10"));
    }
    // Each answer came from the group's state, not from queue-timeout.
    let line = srv.wait_for_log_line(
        &[
            "group broken",
            "the group cannot start its processes",
            "no secret_key",
        ],
        LOG_WAIT,
    );
    assert!(line.contains("its init failed"), "{line}");
    assert!(
        !srv.error_log().contains("within queue-timeout"),
        "{}",
        srv.error_log()
    );

    let status = srv.get("/rustgi-status?json").json();
    let group = status["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "broken")
        .cloned()
        .expect("the broken group on the status page");
    assert!(
        group["failing"]
            .as_str()
            .is_some_and(|f| f.contains("no secret_key")),
        "{group}"
    );
    // Each restart says why in the process's own words, not only
    // "exited with status 3".
    let reason = group["restarts"][0]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("its init failed") && reason.contains("exited with status 3"),
        "{group}"
    );
}

/// A process that dies before its first frame (which names it) is still
/// named in the 502's line: the parent's record of its death says which.
#[test]
fn a_death_before_the_first_frame_is_named() {
    let srv = faults_server("");
    // The first request of the Apache child goes over a new connection,
    // whose process is not known before it answers.
    let resp = srv.get("/f/segfault");
    assert_eq!(resp.status(), 502, "{}", resp.text());
    let line = srv.wait_for_log_line(
        &[
            "group faults",
            "read the request and ended: killed by signal 11 (SIGSEGV)",
        ],
        LOG_WAIT,
    );
    assert!(line.contains("process "), "{line}");
}
