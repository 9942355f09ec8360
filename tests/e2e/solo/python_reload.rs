//! Script reloading for Python apps: a change to a WSGI script on disk (a
//! new version renamed over it, or only a `touch`, as with mod_wsgi)
//! restarts its daemon group gracefully, under load, without a failed
//! request.

use crate::common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::TestServer;
use common::daemon::{Load, Outcome, heavy_lock, poll_until, require_daemon};
use common::http::{self, Request};

fn script(version: &str) -> String {
    format!(
        "import os\n\n\
         def application(environ, start_response):\n    \
         body = ('{version} ' + str(os.getpid())).encode()\n    \
         start_response('200 OK', [('Content-Type', 'text/plain')])\n    \
         return [body]\n"
    )
}

/// Writes `text` beside `path` and renames it over (a deploy).
fn deploy(path: &std::path::Path, text: &str) {
    let tmp = path.with_extension("py.new");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn a_changed_or_touched_script_reloads_its_group_under_load() {
    require_daemon();
    let _heavy = heavy_lock();
    let mut b = TestServer::builder().modules_copied();
    let path = b.add_file("app/wsgi.py", script("v1"));
    let srv = b
        .config(
            "RustgiDaemonProcess py processes=2 threads=4 graceful-timeout=5 home=@ROOT@/app\n\
             RustgiScriptAlias / @ROOT@/app/wsgi.py process-group=py\n\
             <Directory @ROOT@/app>\n    Require all granted\n</Directory>",
        )
        .start();
    let addr = srv.addr();
    let answers: Arc<Mutex<Vec<(Instant, String)>>> = Arc::default();
    let record = answers.clone();
    let load = Load::start(4, 100_000, move |_, _| {
        match http::send(addr, &Request::get("/")) {
            Ok(r) if r.status() == 200 => {
                record.lock().unwrap().push((Instant::now(), r.text()));
                Outcome::Ok { pid: None }
            }
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
    assert!(load.wait_completed(40, Duration::from_secs(20)), "no load");

    // A new version, renamed over the script.
    deploy(&path, &script("v2"));
    let deployed = Instant::now();
    let switched = poll_until(Duration::from_secs(10), Duration::from_millis(20), || {
        answers
            .lock()
            .unwrap()
            .iter()
            .find(|(t, body)| *t > deployed && body.starts_with("v2 "))
            .map(|(t, _)| *t - deployed)
    });
    eprintln!("the new code answered {switched:?} after the deploy");
    assert!(
        switched.is_some(),
        "the new code did not answer\n{}",
        srv.error_log()
    );
    srv.wait_for_log_line(
        &["group py", "wsgi.py changed (script-reloading)"],
        Duration::from_secs(5),
    );

    // Only a touch: the group restarts (new pids), the code stays.
    let pids_now = |answers: &[(Instant, String)], after: Instant| -> Vec<String> {
        answers
            .iter()
            .filter(|(t, _)| *t > after)
            .map(|(_, body)| body.clone())
            .collect()
    };
    let settled = Instant::now() + Duration::from_millis(500);
    std::thread::sleep(Duration::from_millis(600));
    let before: Vec<String> = pids_now(&answers.lock().unwrap(), settled);
    let touched = Instant::now();
    let file = std::fs::File::options().append(true).open(&path).unwrap();
    file.set_modified(std::time::SystemTime::now()).unwrap();
    let restarted = poll_until(Duration::from_secs(10), Duration::from_millis(20), || {
        let answers = answers.lock().unwrap();
        pids_now(&answers, touched)
            .into_iter()
            .find(|body| !before.contains(body))
    });
    let report = load.stop();
    assert!(
        restarted.is_some(),
        "a touch did not restart the group\n{}",
        srv.error_log()
    );
    assert!(
        restarted.as_deref().is_some_and(|b| b.starts_with("v2 ")),
        "{restarted:?}"
    );
    assert!(
        report.failures().is_empty(),
        "{} of {} requests failed:\n{}",
        report.failures().len(),
        report.total(),
        report.describe_failures(deployed)
    );
}
