//! Daemon-mode configuration errors that `apache2 -t` reports.

use crate::common;

use common::daemon::skip;
use common::{Artifact, TestServer, running_as_root};

/// Runs `apache2 -t` on the base configuration plus `text`; asserts that it
/// fails and that its output holds each of `needles` (case-insensitive).
fn assert_refused(text: &str, needles: &[&str]) -> String {
    let t = TestServer::builder()
        .app(Artifact::Faults)
        .config(text)
        .config_test();
    assert!(
        !t.success,
        "apache2 -t accepted {text:?}:\n{}\n--- httpd.conf ---\n{}",
        t.output, t.config
    );
    let lower = t.output.to_lowercase();
    for n in needles {
        assert!(
            lower.contains(&n.to_lowercase()),
            "apache2 -t output for {text:?} lacks {n:?}:\n{}",
            t.output
        );
    }
    t.output
}

#[test]
fn valid_daemon_configuration_passes() {
    let t = TestServer::builder()
        .app(Artifact::Faults)
        .config(
            "RustgiSocketPrefix @ROOT@/sockets\n\
             RustgiRestrictEmbedded On\n\
             RustgiScriptReloading Off\n\
             RustgiDaemonProcess shop processes=2 threads=4 maximum-requests=100 \
             request-timeout=5 queue-timeout=2 graceful-timeout=3 home=@ROOT@ \
             display-name=%{GROUP} env=A=b\n\
             RustgiProcessGroup shop\n\
             RustgiScriptAlias /shop @APPS@/libfaults.so process-group=shop",
        )
        .config_test();
    assert!(t.success, "{}\n--- httpd.conf ---\n{}", t.output, t.config);
    assert!(t.output.contains("Syntax OK"), "{}", t.output);
}

#[test]
fn unknown_option_is_named() {
    let out = assert_refused(
        "RustgiDaemonProcess shop bogus=1",
        &["RustgiDaemonProcess", "bogus"],
    );
    assert!(
        out.contains("Syntax error on line"),
        "the error does not say where: {out}"
    );
}

#[test]
fn bad_value_is_named() {
    assert_refused(
        "RustgiDaemonProcess shop threads=many",
        &["RustgiDaemonProcess", "threads"],
    );
}

#[test]
fn a_time_past_ten_years_is_refused() {
    // Added to the clock, it would overflow in the daemon.
    assert_refused(
        "RustgiDaemonProcess shop graceful-timeout=18446744073709551615",
        &[
            "RustgiDaemonProcess",
            "graceful-timeout=18446744073709551615",
            "from 0 to 315360000",
        ],
    );
}

#[test]
fn user_root_is_refused() {
    if !running_as_root() {
        skip(
            "user_root_is_refused",
            "daemons switch users only when Apache starts as root",
        );
        return;
    }
    assert_refused(
        "RustgiDaemonProcess shop user=root home=@ROOT@\n\
         RustgiScriptAlias /shop @APPS@/libfaults.so process-group=shop",
        &["RustgiDaemonProcess", "user=root"],
    );
}

#[test]
fn undefined_process_group_is_named() {
    assert_refused(
        "RustgiScriptAlias /x @APPS@/libfaults.so process-group=undefined",
        &["undefined"],
    );
}

#[test]
fn undefined_process_group_of_a_virtual_host_is_named() {
    assert_refused(
        "<VirtualHost *:@PORT@>\n\
         \x20   ServerName v.test\n\
         \x20   RustgiProcessGroup nowhere\n\
         \x20   RustgiScriptAlias /x @APPS@/libfaults.so\n\
         </VirtualHost>",
        &["nowhere"],
    );
}

/// What post_config needs, `apache2 -t` checks: a configuration that tests
/// fine never takes the server down at `apachectl graceful`.
#[test]
fn configtest_refuses_a_missing_daemon_executable() {
    let b = TestServer::builder().app(Artifact::Faults).modules_copied();
    std::fs::remove_file(b.root().join("modules/rustgi-daemon")).unwrap();
    let t = b
        .config(
            "RustgiDaemonProcess shop\n\
             RustgiScriptAlias /shop @APPS@/libfaults.so process-group=shop",
        )
        .config_test();
    assert!(!t.success, "{}", t.output);
    assert!(
        t.output.contains("RustgiDaemonProcess shop")
            && t.output.contains("rustgi-daemon")
            && t.output.contains("is missing"),
        "{}",
        t.output
    );
}

#[test]
fn configtest_refuses_a_home_that_cannot_be_entered() {
    assert_refused(
        "RustgiDaemonProcess shop home=@ROOT@/nonexistent",
        &["RustgiDaemonProcess shop: home=", "nonexistent"],
    );
    if !running_as_root() {
        skip(
            "configtest_refuses_a_home_that_cannot_be_entered (user part)",
            "only root switches users",
        );
        return;
    }
    let b = TestServer::builder().app(Artifact::Faults);
    let private = b.root().join("private");
    std::fs::create_dir(&private).unwrap();
    std::fs::set_permissions(
        &private,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let t = b
        .config("RustgiDaemonProcess shop user=nobody home=@ROOT@/private")
        .config_test();
    assert!(!t.success, "{}", t.output);
    assert!(
        t.output.contains("home=") && t.output.contains("user nobody cannot enter the directory"),
        "{}",
        t.output
    );
}

#[test]
fn configtest_refuses_an_app_its_group_cannot_read() {
    if !running_as_root() {
        skip(
            "configtest_refuses_an_app_its_group_cannot_read",
            "only root switches users",
        );
        return;
    }
    let mut b = TestServer::builder();
    let app = b.add_app(Artifact::Faults);
    std::fs::set_permissions(&app, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let t = b
        .config(
            "RustgiDaemonProcess shop user=nobody\n\
             RustgiScriptAlias /shop @APPS@/libfaults.so process-group=shop",
        )
        .config_test();
    assert!(!t.success, "{}", t.output);
    assert!(
        t.output.contains("the app")
            && t.output
                .contains("libfaults.so cannot be loaded by its process group shop")
            && t.output.contains("user nobody cannot read"),
        "{}",
        t.output
    );
}

/// The socket directory keeps no files of groups that are no longer
/// configured: a server started without a group removes what an earlier one
/// left of it.
#[test]
fn files_of_groups_no_longer_configured_are_removed() {
    common::daemon::require_daemon();
    let sockets = common::temp_dir("rustgi-sockets-");
    let config = |groups: &[&str]| {
        let mut text = format!("RustgiSocketPrefix {}\n", sockets.path().display());
        for g in groups {
            text.push_str(&format!(
                "RustgiDaemonProcess {g} threads=1 home=@ROOT@\n\
                 RustgiScriptAlias /{g} @APPS@/libfaults.so process-group={g}\n"
            ));
        }
        text
    };
    let first = TestServer::builder()
        .app(Artifact::Faults)
        .config(&config(&["kept", "gone"]))
        .start();
    assert_eq!(first.get("/gone/").status(), 200);
    drop(first);
    // What a stopped server leaves of its groups.
    let gone = ["gone.sock", "gone.json", "gone.group.json", "gone.status"];
    let left: Vec<&str> = gone
        .into_iter()
        .filter(|name| sockets.path().join(name).exists())
        .collect();
    assert!(!left.is_empty(), "the first server left nothing to remove");
    let second = TestServer::builder()
        .app(Artifact::Faults)
        .config(&config(&["kept"]))
        .start();
    assert_eq!(second.get("/kept/").status(), 200);
    for name in gone {
        assert!(!sockets.path().join(name).exists(), "{name} is left over");
    }
    assert!(sockets.path().join("kept.sock").exists());
}

/// An unknown user or group is a syntax error naming the line, and a group
/// defined twice names both lines.
#[test]
fn unknown_users_and_duplicate_groups_name_their_lines() {
    if running_as_root() {
        for (option, what) in [
            (
                "user=no-such-user-rustgi",
                "user 'no-such-user-rustgi' does not exist",
            ),
            (
                "group=no-such-group-rustgi",
                "group 'no-such-group-rustgi' does not exist",
            ),
        ] {
            let out = assert_refused(
                &format!("RustgiDaemonProcess shop {option}"),
                &["Syntax error on line", "RustgiDaemonProcess", what],
            );
            assert!(out.contains("shop"), "{out}");
        }
    } else {
        skip(
            "unknown_users_and_duplicate_groups_name_their_lines (users)",
            "only root switches users",
        );
    }
    let out = assert_refused(
        "RustgiDaemonProcess shop\nRustgiDaemonProcess shop",
        &[
            "Syntax error on line",
            "group 'shop' is already defined on line",
        ],
    );
    assert!(out.contains("httpd.conf"), "{out}");
    let out = assert_refused(
        "<VirtualHost *:@PORT@>\n    ServerName a.test\n    RustgiDaemonProcess shop\n</VirtualHost>\n\
         <VirtualHost *:@PORT@>\n    ServerName b.test\n    RustgiDaemonProcess shop\n</VirtualHost>",
        &[
            "group 'shop' is defined twice, on line",
            "(for a.test)",
            "(for b.test)",
        ],
    );
    assert!(out.matches("httpd.conf").count() >= 2, "{out}");
}

/// `RustgiRestrictEmbedded On` with an alias that can only run embedded is
/// refused by `apache2 -t`, naming the alias.
#[test]
fn restrict_embedded_with_an_embedded_alias_is_refused() {
    let out = assert_refused(
        "RustgiRestrictEmbedded On\n\
         RustgiDaemonProcess shop\n\
         RustgiScriptAlias /shop @APPS@/libfaults.so process-group=shop\n\
         RustgiScriptAlias /inside @APPS@/libfaults.so",
        &[
            "RustgiRestrictEmbedded On",
            "maps /inside",
            "libfaults.so",
            "process-group=NAME",
        ],
    );
    assert!(out.contains("RustgiScriptAlias on line"), "{out}");
}
