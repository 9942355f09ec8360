//! Daemon-mode configuration errors that `apache2 -t` reports.

mod common;

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
