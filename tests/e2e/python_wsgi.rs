//! Python WSGI scripts through the Python bridge, daemon mode and embedded:
//! the conformance app (`tests/python/conformance.py`, wrapped in
//! `wsgiref.validate.validator`) exercises PEP 3333 item by item.

use crate::common;

use std::time::Duration;

use common::daemon::require_daemon;
use common::http::{self, Request};
use common::{TestServer, TestServerBuilder};
use sha2::{Digest, Sha256};

const CONFORMANCE: &str = include_str!("../python/conformance.py");
const LOG_WAIT: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Daemon,
    Embedded,
}

/// The bytes of `data.bin`, which `/file` serves a slice of.
fn data_bin() -> Vec<u8> {
    (0..=255u8).cycle().take(4096).collect()
}

/// A server with the conformance app at `/v` (validated) and `/raw`.
fn builder(mode: Mode) -> TestServerBuilder {
    let mut b = TestServer::builder().modules_copied();
    b.add_file("app/conformance.py", CONFORMANCE);
    b.add_file("app/data.bin", data_bin());
    // The /stream test leaves a marker file here.
    std::fs::set_permissions(
        b.root().join("app"),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .expect("chmod app");
    let group = match mode {
        Mode::Daemon => {
            require_daemon();
            "RustgiDaemonProcess py processes=1 threads=4 home=@ROOT@/app\n\
             RustgiProcessGroup py\n"
        }
        Mode::Embedded => "RustgiProcessGroup %{GLOBAL}\n",
    };
    b.config(&format!(
        "{group}\
         RustgiScriptAlias /v @ROOT@/app/conformance.py\n\
         RustgiScriptAlias /raw @ROOT@/app/conformance.py callable-object=raw_application\n\
         <Directory @ROOT@/app>\n    Require all granted\n</Directory>"
    ))
}

fn server(mode: Mode) -> TestServer {
    builder(mode).start()
}

fn both(test: impl Fn(Mode)) {
    test(Mode::Daemon);
    test(Mode::Embedded);
}

fn ok_json(srv: &TestServer, req: &Request) -> serde_json::Value {
    let resp = srv.send(req);
    assert_eq!(
        resp.status(),
        200,
        "{} {}: {}\n{}",
        req.method,
        req.target,
        resp.text(),
        srv.error_log()
    );
    resp.json()
}

#[test]
fn environ_is_pep_3333_and_mod_wsgi_shaped() {
    both(|mode| {
        let srv = server(mode);
        let env = ok_json(
            &srv,
            &Request::get("/v/env/a%20b?x=1&y=%C3%A9").header("X-Test", "é"),
        );
        assert_eq!(env["wsgi.version"], serde_json::json!([1, 0]), "{mode:?}");
        assert_eq!(env["wsgi.url_scheme"], "http");
        assert_eq!(env["wsgi.input_terminated"], true);
        assert_eq!(env["wsgi.run_once"], false);
        assert_eq!(env["wsgi.multiprocess"], mode == Mode::Embedded, "{mode:?}");
        // The daemon group has 4 threads; the test's event MPM is threaded.
        assert_eq!(env["wsgi.multithread"], true);
        let group = if mode == Mode::Daemon { "py" } else { "" };
        assert_eq!(env["mod_wsgi.process_group"], group);
        assert_eq!(env["mod_wsgi.application_group"], "");
        assert_eq!(env["SCRIPT_NAME"], "/v");
        assert_eq!(env["mod_wsgi.script_name"], "/v");
        assert_eq!(env["PATH_INFO"], "/env/a b");
        assert_eq!(env["QUERY_STRING"], "x=1&y=%C3%A9");
        // Non-ASCII bytes arrive as ISO-8859-1 code points (PEP 3333).
        assert_eq!(env["HTTP_X_TEST"], "\u{c3}\u{a9}");
        let script = srv.root().join("app/conformance.py");
        assert_eq!(env["SCRIPT_FILENAME"], script.to_str().unwrap());
        // Imported as a module with __file__ and an entry in sys.modules.
        assert_eq!(env["__file__"], script.to_str().unwrap());
        assert!(
            env["__name__"].as_str().unwrap().starts_with("_rustgi"),
            "{}",
            env["__name__"]
        );
        assert_eq!(env["in_sys_modules"], true);
        // Every CGI variable is a native string.
        for (key, kind) in env["types"].as_object().unwrap() {
            assert_eq!(kind, "str", "{mode:?}: {key}");
        }
        // No Python signal handler: SIGINT is not KeyboardInterrupt's.
        assert!(
            !env["sigint"]
                .as_str()
                .unwrap()
                .contains("default_int_handler"),
            "{}",
            env["sigint"]
        );
    });
}

#[test]
fn bodies_stream_in_with_any_framing() {
    both(|mode| {
        let srv = server(mode);
        let body: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let sha = hex(&Sha256::digest(&body));
        for target in ["/v/read", "/v/read?1000", "/raw/readall"] {
            let env = ok_json(&srv, &Request::post(target).body(body.clone()));
            assert_eq!(env["length"], body.len(), "{mode:?} {target}");
            assert_eq!(env["sha256"], sha, "{mode:?} {target}");
        }
        // read() without a size is not PEP 3333's (the validator refuses
        // it) but apps use it: /raw.
        // Chunked, without Content-Length, with no directive to allow it.
        let pieces: Vec<Vec<u8>> = body.chunks(70_001).map(<[u8]>::to_vec).collect();
        let env = ok_json(&srv, &Request::post("/v/read").chunked(pieces));
        assert_eq!(env["length"], body.len(), "{mode:?} chunked");
        assert_eq!(env["sha256"], sha, "{mode:?} chunked");
        let env = ok_json(&srv, &Request::post("/raw/readall"));
        assert_eq!(env["length"], 0);
    });
}

#[test]
fn input_reads_lines() {
    both(|mode| {
        let srv = server(mode);
        let body = "first line\nabcdef\nsecond\nthird\nfourth";
        let got = ok_json(&srv, &Request::post("/v/lines").body(body));
        assert_eq!(got["first"], "first line\n", "{mode:?}");
        assert_eq!(got["limited"], "abc");
        assert_eq!(got["rest_of_line"], "def\n");
        assert_eq!(got["hinted"], serde_json::json!(["second\n"]));
        assert_eq!(got["iterated"], serde_json::json!(["third\n", "fourth"]));
    });
}

#[test]
fn responses_stream_out_as_the_app_yields() {
    both(|mode| {
        let srv = server(mode);
        let marker = format!("marker-{mode:?}");
        let mut resp = http::open(srv.addr(), &Request::get(&format!("/v/stream?{marker}")))
            .expect("open /v/stream");
        assert_eq!(resp.head.status, 200);
        let first = resp.read_until_contains(b"first\n").expect("first piece");
        assert_eq!(first, b"first\n", "{mode:?}");
        // The app is still waiting: only now does it get to yield again.
        std::fs::write(srv.root().join("app").join(&marker), b"").unwrap();
        let rest = resp.read_rest().expect("the rest");
        assert_eq!(rest, b"second\n", "{mode:?}");
    });
}

#[test]
fn write_callable_exc_info_and_content_length() {
    both(|mode| {
        let srv = server(mode);
        let resp = srv.get("/v/write");
        assert_eq!(resp.status(), 200, "{}", resp.text());
        assert_eq!(resp.text(), "written directly, then returned", "{mode:?}");

        // exc_info before output replaces the response.
        let resp = srv.get("/v/exc_info");
        assert_eq!(resp.status(), 503, "{mode:?}: {}", resp.text());
        assert_eq!(resp.text(), "replaced");

        // After output has started, start_response re-raises exc_info.
        let resp = srv.get("/v/exc_info-late");
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.text(), "started re-raised: too late", "{mode:?}");

        // A declared Content-Length is honoured: the rest is not sent.
        let resp = srv.get("/v/length");
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.text(), "12345", "{mode:?}");
        assert_eq!(resp.header("Content-Length"), Some("5"));
    });
}

#[test]
fn file_wrapper_starts_at_the_offset_and_honours_the_length() {
    both(|mode| {
        let srv = server(mode);
        let data = data_bin();
        // /raw: the bridge reads the file's descriptor; /v: the validator's
        // wrapper makes the bridge iterate it.
        for prefix in ["/raw", "/v"] {
            let resp = srv.get(&format!("{prefix}/file"));
            assert_eq!(resp.status(), 200, "{mode:?} {prefix}: {}", resp.text());
            assert_eq!(resp.body, &data[10..30], "{mode:?} {prefix}");
            let resp = srv.get(&format!("{prefix}/file?4000"));
            assert_eq!(resp.body, &data[10..4010], "{mode:?} {prefix}");
        }
    });
}

#[test]
fn close_is_always_called() {
    require_daemon();
    let srv = server(Mode::Daemon);
    let closed = |srv: &TestServer| {
        ok_json(srv, &Request::get("/v/closed"))["count"]
            .as_u64()
            .unwrap()
    };
    let before = closed(&srv);
    assert_eq!(srv.get("/v/close").text(), "ab");
    assert_eq!(closed(&srv), before + 1, "after a full response");

    // The response had started: it is cut short, never complete-looking.
    if let Ok(resp) = http::send(srv.addr(), &Request::get("/v/raise-in-iterable")) {
        panic!("a response cut short looked complete: {}", resp.text());
    }
    assert_eq!(closed(&srv), before + 2, "after an exception");

    // A client that goes away mid-response: the app's iterable is closed.
    let mut resp = http::open(srv.addr(), &Request::get("/v/endless")).expect("open");
    resp.read_some().expect("some of the endless body");
    drop(resp);
    let deadline = std::time::Instant::now() + LOG_WAIT;
    while closed(&srv) < before + 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "close() was not called after the client went away\n{}",
            srv.error_log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn app_errors_are_500s_with_a_traceback_naming_the_script() {
    both(|mode| {
        let srv = server(mode);
        let script = srv.root().join("app/conformance.py").display().to_string();
        let resp = srv.get("/v/error");
        assert_eq!(resp.status(), 500, "{mode:?}");
        let log = srv.wait_for_log_line(
            &[
                &format!("WSGI script {script}"),
                "pid",
                "the app raised an exception",
            ],
            LOG_WAIT,
        );
        if mode == Mode::Daemon {
            assert!(log.contains("process group 'py'"), "{log}");
        }
        srv.wait_for_log_line(&[&format!("File \"{script}\""), "in app"], LOG_WAIT);
        srv.wait_for_log(
            "RuntimeError: the conformance app failed on purpose",
            LOG_WAIT,
        );

        for (target, message) in [
            ("/raw/bad-status", "invalid status \"20 OK\""),
            ("/raw/crlf", "header X-Injected holds a line break"),
            ("/raw/str-body", "the app yielded a str"),
        ] {
            let resp = srv.get(target);
            assert_eq!(resp.status(), 500, "{mode:?} {target}: {}", resp.text());
            assert!(resp.header("X-Injected").is_none());
            assert!(resp.header("Set-Cookie").is_none());
            srv.wait_for_log(message, LOG_WAIT);
        }
        // The process goes on serving.
        assert_eq!(srv.get("/v/pid").status(), 200);
    });
}

#[test]
fn output_and_logging_reach_the_error_log() {
    both(|mode| {
        let srv = server(mode);
        assert_eq!(srv.get("/v/log").text(), "logged");
        for line in [
            "print() from the app",
            "wsgi.errors from the app",
            "stderr from the app",
            "logging.warning from the app",
        ] {
            srv.wait_for_log(line, LOG_WAIT);
        }
    });
}

#[test]
fn app_threads_run_and_extension_modules_load() {
    both(|mode| {
        let srv = server(mode);
        let first = ok_json(&srv, &Request::get("/v/threads"))["ticks"]
            .as_u64()
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let later = ok_json(&srv, &Request::get("/v/threads"))["ticks"]
            .as_u64()
            .unwrap();
        assert!(
            later > first,
            "{mode:?}: the app's thread stopped ({first} → {later})"
        );

        let ext = ok_json(&srv, &Request::get("/v/extensions"));
        assert_eq!(ext["sqlite3"], 42, "{mode:?}");
        assert_eq!(ext["decimal"], "3.3");
        assert_eq!(ext["ctypes"], 4);
    });
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A body that cannot be read (malformed chunking) gets the server's 400,
/// even when the app takes the failed read for an empty body and answers
/// 200: the host sends its 4xx instead (the ABI's rule for read_body).
#[test]
fn an_unreadable_body_is_a_400_whatever_the_app_answers() {
    both(|mode| {
        let srv = server(mode);
        let raw = b"POST /raw/swallow HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\
                    Connection: close\r\n\r\nzz\r\nabc\r\n0\r\n\r\n";
        let resp = srv.send_raw(raw);
        assert_eq!(
            resp.status(),
            400,
            "{mode:?}: {}\n{}",
            resp.text(),
            srv.error_log()
        );
        // A readable one is the app's.
        let resp = srv.send(&Request::post("/raw/swallow").body("abc"));
        assert_eq!(resp.status(), 200, "{mode:?}");
        assert_eq!(resp.json()["length"], 3);
    });
}
