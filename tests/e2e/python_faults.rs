//! Python apps that misbehave cost their own requests only: import errors
//! give 500s until the script is fixed (no crash loop, Apache starts), an
//! exception gives a 500, a request past request-timeout a 504, `os._exit`
//! a 502; and `apache2 -t` refuses what cannot work.

use crate::common;

use std::time::{Duration, Instant};

use common::daemon::{is_gone, json_pid, poll_until, require_daemon};
use common::{TestServer, TestServerBuilder};

const CONFORMANCE: &str = include_str!("../python/conformance.py");
const LOG_WAIT: Duration = Duration::from_secs(10);

const FIXED: &str = "def application(environ, start_response):\n    \
    start_response('200 OK', [('Content-Type', 'text/plain')])\n    \
    return [b'fixed']\n";

/// `app/broken.py` (with `broken`) at `/b` and the conformance app at
/// `/c`, both in group `py` or embedded.
fn server(broken: &str, daemon: bool, options: &str) -> (TestServer, String) {
    let mut b = TestServer::builder().modules_copied();
    let script = b.add_file("app/broken.py", broken).display().to_string();
    b.add_file("app/conformance.py", CONFORMANCE);
    let group = if daemon {
        require_daemon();
        format!(
            "RustgiDaemonProcess py processes=1 threads=4 home=@ROOT@/app {options}\nRustgiProcessGroup py\n"
        )
    } else {
        String::new()
    };
    let srv = b
        .config(&format!(
            "{group}RustgiScriptAlias /b @ROOT@/app/broken.py\n\
             RustgiScriptAlias /c @ROOT@/app/conformance.py\n\
             <Directory @ROOT@/app>\n    Require all granted\n</Directory>"
        ))
        .start();
    (srv, script)
}

fn pid(srv: &TestServer) -> u64 {
    let resp = srv.get("/c/pid");
    assert_eq!(
        resp.status(),
        200,
        "/c/pid: {}\n{}",
        resp.text(),
        srv.error_log()
    );
    json_pid(&resp).expect("a pid")
}

#[test]
fn a_syntax_error_is_500s_until_fixed_without_a_crash_loop() {
    for daemon in [true, false] {
        // Apache starts although the script cannot be compiled.
        let (srv, script) = server(
            "def application(environ, start_response):\n    return [\n\nx = (\n",
            daemon,
            "",
        );
        let before = daemon.then(|| pid(&srv));
        for _ in 0..3 {
            let resp = srv.get("/b/");
            assert_eq!(resp.status(), 500, "daemon {daemon}: {}", resp.text());
        }
        srv.wait_for_log_line(
            &[
                &format!("WSGI script {script}"),
                "importing the script failed",
            ],
            LOG_WAIT,
        );
        srv.wait_for_log_line(&[&format!("File \"{script}\", line 4")], LOG_WAIT);
        srv.wait_for_log("SyntaxError", LOG_WAIT);
        if let Some(before) = before {
            assert_eq!(pid(&srv), before, "the group's process is not restarted");
        }
        // Fixing the file is enough.
        std::fs::write(&script, FIXED).unwrap();
        let resp = srv.get("/b/");
        assert_eq!(
            resp.status(),
            200,
            "daemon {daemon}: {}\n{}",
            resp.text(),
            srv.error_log()
        );
        assert_eq!(resp.text(), "fixed");
    }
}

#[test]
fn an_exception_at_import_names_the_file_and_line() {
    for daemon in [true, false] {
        let (srv, script) = server(
            "import os\n\nraise RuntimeError('boom at import')\n",
            daemon,
            "",
        );
        assert_eq!(srv.get("/b/").status(), 500);
        srv.wait_for_log_line(
            &[&format!("File \"{script}\", line 3, in <module>")],
            LOG_WAIT,
        );
        srv.wait_for_log("RuntimeError: boom at import", LOG_WAIT);
        // The other script of the process is unaffected.
        assert_eq!(srv.get("/c/pid").status(), 200);
    }
}

#[test]
fn a_missing_callable_is_named() {
    let (srv, script) = server("app = None\n", true, "");
    assert_eq!(srv.get("/b/").status(), 500);
    srv.wait_for_log(
        &format!(
            "WSGI script {script} has no 'application' (set callable-object= to use another name)"
        ),
        LOG_WAIT,
    );
}

#[test]
fn a_request_past_request_timeout_is_504_and_the_process_is_replaced() {
    let (srv, _) = server(FIXED, true, "request-timeout=1 graceful-timeout=2");
    let before = pid(&srv);
    let started = Instant::now();
    let resp = srv.get("/c/sleep?30");
    assert_eq!(
        resp.status(),
        504,
        "after {:?}: {}",
        started.elapsed(),
        resp.text()
    );
    assert_eq!(srv.get("/b/").text(), "fixed", "the next request is served");
    let gone = poll_until(Duration::from_secs(10), Duration::from_millis(100), || {
        is_gone(before as u32).then_some(())
    });
    assert!(
        gone.is_some(),
        "process {before}, blocked in Python, still runs"
    );
    assert_ne!(pid(&srv), before);
}

#[test]
fn os_exit_in_a_request_is_502_and_the_next_is_served() {
    let (srv, _) = server(FIXED, true, "");
    let before = pid(&srv);
    let resp = srv.get("/c/exit");
    assert_eq!(resp.status(), 502, "{}", resp.text());
    srv.wait_for_log_line(
        &["group py", &before.to_string(), "exited with status 3"],
        LOG_WAIT,
    );
    assert_eq!(srv.get("/b/").text(), "fixed");
    assert_ne!(pid(&srv), before);
}

fn config_test(config: &str) -> common::ConfigTest {
    let mut b: TestServerBuilder = TestServer::builder().modules_copied();
    b.add_file("app/wsgi.py", FIXED);
    b.add_file("old-venv/pyvenv.cfg", "home = /usr/bin\nversion = 3.9.2\n");
    b.config(config).config_test()
}

#[test]
fn configtest_refuses_what_cannot_work() {
    let t = config_test("RustgiScriptAlias / @ROOT@/app/missing.py");
    assert!(!t.success, "{}", t.output);
    assert!(
        t.output.contains("RustgiScriptAlias") && t.output.contains("missing.py"),
        "{}",
        t.output
    );

    let t = config_test(
        "RustgiDaemonProcess py python-home=@ROOT@/old-venv\n\
         RustgiScriptAlias / @ROOT@/app/wsgi.py process-group=py",
    );
    assert!(!t.success, "{}", t.output);
    assert!(
        t.output.contains("python-home=")
            && t.output.contains("Python 3.9")
            && t.output.contains("built for Python 3.11"),
        "{}",
        t.output
    );

    let t =
        config_test("RustgiPythonHome @ROOT@/nonexistent\nRustgiScriptAlias / @ROOT@/app/wsgi.py");
    assert!(!t.success, "{}", t.output);
    assert!(t.output.contains("RustgiPythonHome"), "{}", t.output);

    let t = config_test("RustgiScriptAlias / @ROOT@/app/wsgi.py callable-object=not.a.name");
    assert!(!t.success);
    assert!(
        t.output.contains("callable-object=not.a.name"),
        "{}",
        t.output
    );

    let t = config_test(
        "RustgiScriptAlias / @ROOT@/app/wsgi.py callable-object=app\nRustgiPythonPath @ROOT@/app",
    );
    assert!(t.success, "{}", t.output);
}

/// A script the group's user cannot read is refused by `apache2 -t` (which
/// runs as root, so only the permission bits can tell).
#[test]
fn configtest_refuses_a_script_the_group_cannot_read() {
    if !common::running_as_root() {
        common::daemon::skip(
            "configtest_refuses_a_script_the_group_cannot_read",
            "only root switches users",
        );
        return;
    }
    let unreadable = |config: &str| {
        let mut b = TestServer::builder().modules_copied();
        let script = b.add_file("app/private.py", FIXED);
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        let t = b.config(config).config_test();
        assert!(!t.success, "{}", t.output);
        assert!(
            t.output.contains("user nobody cannot read") && t.output.contains("private.py"),
            "{}",
            t.output
        );
        t.output
    };
    let output = unreadable(
        "RustgiDaemonProcess py user=nobody\n\
         RustgiScriptAlias / @ROOT@/app/private.py process-group=py",
    );
    assert!(
        output.contains("the WSGI script")
            && output.contains("cannot be loaded by its process group py"),
        "{output}"
    );
    // Embedded, Apache's User (nobody) is the one that must read it.
    let output = unreadable("RustgiScriptAlias / @ROOT@/app/private.py");
    assert!(output.contains("process group %{GLOBAL}"), "{output}");
}

/// The status page shows, for a Python group, the Python version, the
/// script of each app, and an import failure with its time and cause until
/// the script imports.
#[test]
fn the_status_page_shows_python_apps_and_import_failures() {
    require_daemon();
    let mut b = TestServer::builder().modules_copied();
    let script = b.add_file("app/broken.py", "def application(:\n");
    b.add_file("app/conformance.py", CONFORMANCE);
    let srv = b
        .config(
            "RustgiDaemonProcess py processes=1 threads=2 home=@ROOT@/app\n\
             RustgiProcessGroup py\n\
             RustgiScriptAlias /b @ROOT@/app/broken.py\n\
             RustgiScriptAlias /c @ROOT@/app/conformance.py\n\
             <Directory @ROOT@/app>\n    Require all granted\n</Directory>\n\
             <Location /rustgi-status>\n    SetHandler rustgi-status\n    Require all granted\n</Location>",
        )
        .start();
    assert_eq!(srv.get("/b/").status(), 500);
    let apps = |srv: &TestServer| -> Vec<serde_json::Value> {
        let doc = srv.get("/rustgi-status?json").json();
        doc["groups"][0]["processes"][0]["apps"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    let find = |apps: &[serde_json::Value], name: &str| {
        apps.iter()
            .find(|a| {
                a["status"]["script"]
                    .as_str()
                    .is_some_and(|s| s.ends_with(name))
            })
            .cloned()
    };
    // The status file is written every second.
    let seen = poll_until(Duration::from_secs(5), Duration::from_millis(100), || {
        let apps = apps(&srv);
        let broken = find(&apps, "broken.py")?;
        let good = find(&apps, "conformance.py")?;
        broken["status"]["import_error"]
            .is_object()
            .then_some((broken, good))
    });
    let (broken, good) = seen.unwrap_or_else(|| panic!("no Python rows: {:?}", apps(&srv)));
    assert!(
        broken["status"]["python"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.11")),
        "{broken}"
    );
    assert_eq!(broken["status"]["imported"], false);
    assert!(
        broken["status"]["import_error"]["cause"]
            .as_str()
            .is_some_and(|c| c.contains("SyntaxError")),
        "{broken}"
    );
    assert!(
        broken["status"]["import_error"]["at"].as_u64().is_some(),
        "{broken}"
    );
    assert_eq!(good["status"]["imported"], true);
    assert!(good["status"]["import_error"].is_null(), "{good}");
    let html = srv.get("/rustgi-status").text();
    assert!(html.contains("python: 3.11"), "{html}");
    assert!(
        html.contains(&format!("script: {}", script.display())),
        "{html}"
    );
    assert!(html.contains("import failed"), "{html}");

    // Fixed and imported: the failure goes.
    std::fs::write(&script, FIXED).unwrap();
    assert_eq!(srv.get("/b/").status(), 200);
    let cleared = poll_until(Duration::from_secs(5), Duration::from_millis(100), || {
        find(&apps(&srv), "broken.py")
            .filter(|b| b["status"]["imported"] == true && b["status"]["import_error"].is_null())
    });
    assert!(cleared.is_some(), "{:?}", apps(&srv));
}
