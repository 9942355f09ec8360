//! Name-based virtual hosts on one port, each with its own apps and
//! configuration.

use crate::common;

use common::{Artifact, Request, TestServer, map};

#[test]
fn name_based_virtual_hosts_answer_by_host_header() {
    let srv = TestServer::builder()
        .app(Artifact::Hello)
        .app(Artifact::Echo)
        .config(
            "RustgiAppConfig shared yes\n\
             <VirtualHost *:@PORT@>\n\
             \x20   ServerName a.test\n\
             \x20   RustgiScriptAlias / @APPS@/libhello.so\n\
             </VirtualHost>\n\
             <VirtualHost *:@PORT@>\n\
             \x20   ServerName b.test\n\
             \x20   RustgiProcessGroup %{GLOBAL}\n\
             \x20   RustgiAppConfig site b\n\
             \x20   RustgiScriptAlias / @APPS@/libecho.so\n\
             </VirtualHost>",
        )
        .start();
    let port = srv.port();

    for host in [
        "a.test".to_owned(),
        format!("a.test:{port}"),
        "A.TEST".into(),
    ] {
        let resp = srv.send(&Request::get("/x").header("Host", &host));
        assert_eq!(resp.status(), 200, "Host: {host}");
        assert_eq!(resp.text(), "Hello, World!", "Host: {host}");
    }
    // An unknown name gets the first virtual host.
    let resp = srv.send(&Request::get("/").header("Host", "unknown.test"));
    assert_eq!(resp.text(), "Hello, World!");

    for host in ["b.test".to_owned(), format!("b.test:{port}")] {
        let echo = srv.echo(&Request::get("/p/q").header("Host", &host));
        assert_eq!(
            echo.env("SERVER_NAME").as_deref(),
            Some("b.test"),
            "Host: {host}"
        );
        assert_eq!(echo.env("HTTP_HOST").as_deref(), Some(host.as_str()));
        assert_eq!(echo.str("script_name"), "");
        assert_eq!(echo.str("path_info"), "/p/q");
        assert_eq!(echo.config(), map(&[("shared", "yes"), ("site", "b")]));
        assert_eq!(
            echo.init_config().get("site").map(String::as_str),
            Some("b")
        );
        assert_eq!(
            echo.env("rustgi.process_group").as_deref(),
            Some("%{GLOBAL}")
        );
    }
}

#[test]
fn same_app_in_two_hosts_gets_each_hosts_configuration() {
    let srv = TestServer::builder()
        .app(Artifact::Echo)
        .config(
            "<VirtualHost *:@PORT@>\n\
             \x20   ServerName one.test\n\
             \x20   RustgiAppConfig site one\n\
             \x20   RustgiScriptAlias /app @APPS@/libecho.so\n\
             </VirtualHost>\n\
             <VirtualHost *:@PORT@>\n\
             \x20   ServerName two.test\n\
             \x20   RustgiAppConfig site two\n\
             \x20   RustgiScriptAlias /app @APPS@/libecho.so\n\
             </VirtualHost>",
        )
        .start();
    for site in ["one", "two", "one", "two"] {
        let host = format!("{site}.test");
        let echo = srv.echo(&Request::get("/app/x").header("Host", &host));
        assert_eq!(echo.config(), map(&[("site", site)]), "Host: {host}");
        assert_eq!(echo.init_config(), map(&[("site", site)]), "Host: {host}");
    }
}

/// A virtual host without any Rustgi* directive still gets a configuration
/// of its own: it inherits the main server's alias (with an app instance of
/// its own) and the main server's daemon group is defined once.
#[test]
fn a_host_without_rustgi_directives_inherits_the_main_servers() {
    common::daemon::require_daemon();
    let srv = TestServer::builder()
        .app(Artifact::Echo)
        .config(
            "RustgiDaemonProcess shared processes=1 threads=2 home=@ROOT@\n\
             RustgiScriptAlias /app @APPS@/libecho.so process-group=shared\n\
             RustgiAppConfig where main\n\
             <VirtualHost *:@PORT@>\n\
             ServerName plain.test\n\
             </VirtualHost>",
        )
        .start();
    let echo = srv.echo(&Request::get("/app/x").header("Host", "plain.test"));
    assert_eq!(echo.str("path_info"), "/x");
    assert_eq!(echo.env("rustgi.process_group").as_deref(), Some("shared"));
    assert_eq!(
        echo.init_config().get("where").map(String::as_str),
        Some("main")
    );
    assert!(
        !srv.error_log().contains("defined twice"),
        "{}",
        srv.error_log()
    );
}
