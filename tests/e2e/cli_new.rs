//! `rustgi new` scaffolds an app crate that `rustgi serve .` builds and
//! serves, and rebuilds when its sources change (`--reload-on-changes`).
//!
//! The crate builds into the workspace's target directory with the
//! workspace's `Cargo.lock` and release profile, so that it reuses the
//! dependencies `cargo build --release --workspace` compiled: only app-sdk
//! (as a dependency of a crate outside the workspace) and the crate itself
//! are compiled.

use crate::cli_common;
use crate::common;

use std::fs;
use std::time::Duration;

use cli_common::{Serve, group_alive, is_gone, output_text, rustgi_exe, rustgi_in, wait_until};
use common::daemon::{children_of, daemon_children};
use common::http::{self, Request};
use common::temp_dir;

/// The first build compiles app-sdk's dependencies: give it time.
const FIRST_BUILD: Duration = Duration::from_secs(900);

#[test]
fn new_then_serve_answers_and_rebuilds_on_changes() {
    let dir = temp_dir("rustgi-cli-new-");
    let out = rustgi_in(&["new", "cli-new-app"], Some(dir.path()), &[]);
    assert!(out.status.success(), "{}", output_text(&out));
    let krate = dir.path().join("cli-new-app");
    let text = String::from_utf8_lossy(&out.stdout);
    // The command as it can be run: this build is not on PATH.
    let exe = rustgi_exe().canonicalize().unwrap();
    assert!(
        text.contains(&format!("&& {} serve .", exe.display())),
        "{text}"
    );
    // The README's virtual host grants the library's directory.
    let readme = fs::read_to_string(krate.join("README.md")).unwrap();
    assert!(
        readme.contains("<Directory /path/to>\n    Require all granted"),
        "{readme}"
    );
    let manifest = fs::read_to_string(krate.join("Cargo.toml")).unwrap();
    let sdk = concat!(env!("CARGO_MANIFEST_DIR"), "/app-sdk");
    assert!(
        manifest.contains(&format!("app-sdk = {{ path = \"{sdk}\" }}")),
        "{manifest}"
    );
    assert!(
        fs::read_to_string(krate.join("README.md"))
            .unwrap()
            .contains("rustgi serve .")
    );
    let lib = krate.join("src/lib.rs");
    assert!(
        fs::read_to_string(&lib)
            .unwrap()
            .contains("app_sdk::export_handler!")
    );

    // The workspace's dependency versions and profile: its builds are
    // reused (the copy of Cargo.lock loses the entries the crate needs not).
    fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.lock"),
        krate.join("Cargo.lock"),
    )
    .unwrap();
    let target = common::target_dir().parent().expect("target/");
    let target_s = target.display().to_string();
    let root = dir.path().join("root");
    let mut serve = Serve::start_with(
        &[".", "--reload-on-changes"],
        &root,
        FIRST_BUILD,
        &[
            ("CARGO_TARGET_DIR", &target_s),
            ("CARGO_PROFILE_RELEASE_DEBUG", "line-tables-only"),
        ],
        Some(&krate),
    );
    let get = |serve: &Serve| {
        http::send(serve.addr(), &Request::get("/hi"))
            .map(|r| format!("{} {}", r.status(), r.text()))
            .unwrap_or_else(|e| e.to_string())
    };
    assert_eq!(
        get(&serve),
        "200 Hello from cli-new-app! You asked for /hi\n",
        "{}",
        serve.log()
    );
    // Apache serves a copy in the server root; the build is in the target
    // directory given.
    assert!(root.join("app/libcli_new_app.so").is_file());
    assert!(target.join("release/libcli_new_app.so").is_file());

    // Edit the source: rustgi rebuilds it, and the daemon reloads it.
    let source = fs::read_to_string(&lib).unwrap();
    fs::write(&lib, source.replace("Hello from", "Goodbye from")).unwrap();
    let mut last = String::new();
    let changed = wait_until(Duration::from_secs(180), || {
        last = get(&serve);
        last.starts_with("200 Goodbye from cli-new-app!")
    });
    assert!(changed, "still {last:?}\n{}", serve.log());
    assert!(serve.log().contains("rebuilding"), "{}", serve.log());

    // A broken edit keeps the previous build serving.
    fs::write(&lib, "this is not rust").unwrap();
    assert!(
        wait_until(Duration::from_secs(120), || serve
            .log()
            .contains("still serving the previous build")),
        "{}",
        serve.log()
    );
    assert!(get(&serve).starts_with("200 Goodbye from cli-new-app!"));

    let apache = serve.apache_pid();
    let mut all = children_of(apache);
    all.extend(daemon_children(apache));
    let status = serve.interrupt(Duration::from_secs(20));
    assert!(status.success(), "{status}\n{}", serve.log());
    assert!(is_gone(apache) && !group_alive(apache));
    assert!(all.iter().all(|p| is_gone(*p)));
}

#[test]
fn new_refuses_bad_names_and_existing_directories() {
    let dir = temp_dir("rustgi-cli-new-bad-");
    let run = |args: &[&str]| rustgi_in(args, Some(dir.path()), &[]);
    let out = run(&["new", "2fast"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("digit"));
    let out = run(&["new", "has space"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("' '"));
    fs::create_dir(dir.path().join("taken")).unwrap();
    fs::write(dir.path().join("taken/file"), "x").unwrap();
    let out = run(&["new", "taken"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists already"));
    let out = run(&["new", "ok", "--app-sdk", "/nonexistent"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent"));
    assert!(!dir.path().join("ok").exists());
    // --app-sdk names the SDK the crate depends on.
    let sdk = concat!(env!("CARGO_MANIFEST_DIR"), "/app-sdk");
    let out = run(&["new", "nested/ok", "--app-sdk", sdk]);
    assert!(out.status.success(), "{}", output_text(&out));
    let manifest = fs::read_to_string(dir.path().join("nested/ok/Cargo.toml")).unwrap();
    assert!(manifest.contains("name = \"ok\""), "{manifest}");
}
