//! `rustgi setup-server` writes a server root that its `apachectl` starts,
//! checks, restarts and stops, against the real Apache.

use crate::cli_common;
use crate::common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use cli_common::{group_alive, is_gone, output_text, rustgi, wait_until};
use common::daemon::daemon_children;
use common::http::{self, Request};
use common::{Artifact, copy_readable, temp_dir};

fn apachectl(root: &Path, action: &str) -> Output {
    Command::new(root.join("apachectl"))
        .arg(action)
        .output()
        .expect("run apachectl")
}

/// Stops the server with apachectl if a test fails half-way.
struct Stopper(PathBuf);

impl Drop for Stopper {
    fn drop(&mut self) {
        if self.0.join("httpd.pid").exists() {
            let _ = apachectl(&self.0, "stop");
        }
    }
}

fn pid_of(root: &Path) -> Option<u32> {
    fs::read_to_string(root.join("httpd.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[test]
fn setup_server_writes_a_root_that_apachectl_runs() {
    let dir = temp_dir("rustgi-cli-setup-");
    let app = dir.path().join("libhello.so");
    copy_readable(&Artifact::Hello.path(), &app);
    let root = dir.path().join("site");
    let port = rustgi::free_port().unwrap();
    let out = rustgi(&[
        "setup-server",
        &app.display().to_string(),
        "--server-root",
        &root.display().to_string(),
        "--port",
        &port.to_string(),
        "--threads",
        "2",
    ]);
    assert!(out.status.success(), "{}", output_text(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let ctl = root.join("apachectl").display().to_string();
    for want in [
        format!("Server root:    {}", root.display()),
        format!("Start it:       {ctl} start"),
        format!("Stop it:        {ctl} stop"),
        format!("URL:            http://127.0.0.1:{port}/"),
        "daemon group hello, 1 x 2 threads".to_owned(),
    ] {
        assert!(text.contains(&want), "missing {want:?} in\n{text}");
    }
    // Nothing runs yet.
    assert!(pid_of(&root).is_none());
    let conf = fs::read_to_string(root.join("httpd.conf")).unwrap();
    assert!(conf.contains(&format!("CustomLog \"{}/access_log\"", root.display())));

    let out = apachectl(&root, "configtest");
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Syntax OK"));

    let _stopper = Stopper(root.clone());
    let out = apachectl(&root, "start");
    assert!(out.status.success(), "{}", output_text(&out));
    let log = || fs::read_to_string(root.join("error_log")).unwrap_or_default();
    let addr = ([127, 0, 0, 1], port).into();
    let mut last = String::new();
    let up = wait_until(Duration::from_secs(20), || {
        last = match http::send(addr, &Request::get("/")) {
            Ok(r) => format!("{} {}", r.status(), r.text()),
            Err(e) => e.to_string(),
        };
        last == "200 Hello, World!"
    });
    assert!(up, "got {last:?}\n{}", log());
    let pid = pid_of(&root).expect("httpd.pid");
    let daemons = daemon_children(pid);
    assert_eq!(daemons.len(), 1, "{daemons:?}");

    // A graceful restart replaces the daemon process and keeps serving.
    let out = apachectl(&root, "graceful");
    assert!(out.status.success(), "{}", output_text(&out));
    let replaced = wait_until(Duration::from_secs(20), || {
        let now = daemon_children(pid);
        now.len() == 1 && now != daemons
    });
    assert!(replaced, "the daemon was not replaced:\n{}", log());
    let resp = http::send(addr, &Request::get("/")).unwrap();
    assert_eq!(resp.text(), "Hello, World!");
    let now = daemon_children(pid);

    let out = apachectl(&root, "stop");
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(
        wait_until(Duration::from_secs(20), || is_gone(pid)
            && !group_alive(pid)
            && now.iter().all(|d| is_gone(*d))),
        "Apache or its daemons did not stop:\n{}",
        log()
    );
    assert!(
        fs::read_to_string(root.join("access_log"))
            .unwrap()
            .contains("GET / HTTP/1.1\" 200")
    );

    let out = apachectl(&root, "bogus");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn setup_server_defaults_its_root_and_refuses_bad_options() {
    let out = rustgi(&["setup-server"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the app is missing"));
    let out = rustgi(&["setup-server", "x.so", "--processes", "0"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 1"));

    // Without --server-root: $TMPDIR/rustgi-HOST:PORT:UID.
    let tmp = temp_dir("rustgi-cli-setup-default-");
    let app = tmp.path().join("libhello.so");
    copy_readable(&Artifact::Hello.path(), &app);
    let out = cli_common::rustgi_in(
        &[
            "setup-server",
            &app.display().to_string(),
            "--port",
            "8123",
            "--embedded",
        ],
        None,
        &[("TMPDIR", &tmp.path().display().to_string())],
    );
    assert!(out.status.success(), "{}", output_text(&out));
    // SAFETY: geteuid has no preconditions.
    let uid = unsafe { libc::geteuid() };
    let root = tmp.path().join(format!("rustgi-127.0.0.1:8123:{uid}"));
    assert!(root.join("httpd.conf").is_file());
    assert!(root.join("apachectl").is_file());
    let out = apachectl(&root, "configtest");
    assert!(out.status.success(), "{}", output_text(&out));
}
