//! `rustgi module-config`, `module-location`, `install-module`, `status`
//! and `help`.

use crate::cli_common;
use crate::common;

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::thread;

use cli_common::{output_text, rustgi};
use common::daemon::daemon_children;
use common::{Artifact, temp_dir};
use rustgi::httpd_conf::modules_dir;

fn stdout(out: &std::process::Output) -> String {
    assert!(out.status.success(), "{}", output_text(out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn module_config_names_the_module_beside_the_command() {
    let module = Artifact::Module.path().canonicalize().unwrap();
    let line = stdout(&rustgi(&["module-config"]));
    assert_eq!(
        line,
        format!("LoadModule rustgi_module \"{}\"\n", module.display())
    );
    let text = stdout(&rustgi(&["module-location"]));
    assert_eq!(text, format!("{}\n", module.display()));

    // --module names another one, which must exist.
    let out = rustgi(&["module-config", "--module", "/nonexistent/mod.so"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/mod.so"));
    let out = rustgi(&["module-config", "extra"]);
    assert_eq!(out.status.code(), Some(1));

    // The line loads in Apache as it is.
    let dir = temp_dir("rustgi-cli-modconf-");
    let conf = rustgi::HttpdConf::new(dir.path(), 1).extra(&line);
    let out = rustgi::apache::config_test_conf(&conf).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn install_module_into_a_destdir_installs_a_working_module() {
    let dir = temp_dir("rustgi-cli-install-");
    let dest = dir.path().join("dest");
    let text = stdout(&rustgi(&[
        "install-module",
        "--destdir",
        &dest.display().to_string(),
    ]));
    let modules = dest.join(modules_dir().strip_prefix("/").unwrap());
    let module = modules.join("mod_rustgi.so");
    let daemon = modules.join("rustgi-daemon");
    assert!(text.contains(&format!("as {}", module.display())), "{text}");
    assert_eq!(
        fs::read(&module).unwrap(),
        fs::read(Artifact::Module.path()).unwrap()
    );
    assert_eq!(mode(&module), 0o644);
    assert_eq!(mode(&daemon), 0o755);
    if Path::new("/etc/apache2/mods-available").is_dir() {
        let avail = dest.join("etc/apache2/mods-available");
        let load = fs::read_to_string(avail.join("rustgi.load")).unwrap();
        // The path in it is the final one, without the destdir.
        assert!(
            load.ends_with(&format!(
                "LoadModule rustgi_module {}\n",
                modules_dir().join("mod_rustgi.so").display()
            )),
            "{load}"
        );
        let conf = fs::read_to_string(avail.join("rustgi.conf")).unwrap();
        assert_eq!(
            conf,
            fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/conf/rustgi.conf")).unwrap()
        );
        // Installing again keeps the administrator's rustgi.conf.
        fs::write(avail.join("rustgi.conf"), "# edited\n").unwrap();
        let text = stdout(&rustgi(&[
            "install-module",
            "--destdir",
            &dest.display().to_string(),
        ]));
        assert!(text.contains("kept the existing"), "{text}");
        assert_eq!(
            fs::read_to_string(avail.join("rustgi.conf")).unwrap(),
            "# edited\n"
        );
    }
    // No temporary files are left behind.
    let names: Vec<String> = fs::read_dir(&modules)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");

    // The installed module serves an app in a daemon group: it finds the
    // installed rustgi-daemon beside it.
    let site = temp_dir("rustgi-cli-installed-");
    let app = site.path().join("libhello.so");
    common::copy_readable(&Artifact::Hello.path(), &app);
    let mut server = rustgi::Server::start_on_free_port(|port| {
        rustgi::HttpdConf::new(site.path(), port)
            .rustgi_module(&module)
            .extra(format!(
                "<Directory \"{root}\">\n    Require all granted\n</Directory>\n\
                 RustgiDaemonProcess installed threads=2 home={root}\n\
                 RustgiScriptAlias / {root}/libhello.so process-group=installed",
                root = site.path().display()
            ))
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let resp = common::http::send(server.addr(), &common::Request::get("/")).unwrap();
    assert_eq!(resp.text(), "Hello, World!", "{}", server.logs());
    let daemons = daemon_children(server.pid());
    assert_eq!(daemons.len(), 1);
    let exe = fs::read_link(format!("/proc/{}/exe", daemons[0])).unwrap();
    assert_eq!(exe, daemon);
    server.stop().unwrap();
}

#[test]
fn install_module_refuses_bad_arguments() {
    let out = rustgi(&["install-module", "--bogus"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--bogus"));
    let out = rustgi(&[
        "install-module",
        "--module",
        "/nonexistent.so",
        "--destdir",
        "/tmp/x",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent.so"));
}

/// A one-shot HTTP server: answers each connection with `status` and
/// `body`, and records the request lines.
fn canned_server(
    status: &'static str,
    body: &'static str,
) -> (u16, thread::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = thread::spawn(move || {
        let mut seen = Vec::new();
        let Ok((stream, _)) = listener.accept() else {
            return seen;
        };
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap() > 0 {
            if line == "\r\n" {
                break;
            }
            seen.push(line.trim_end().to_owned());
            line.clear();
        }
        let mut stream = stream;
        let _ = write!(
            stream,
            "HTTP/1.0 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        seen
    });
    (port, handle)
}

const STATUS_JSON: &str = r#"{"groups":[
  {"name":"shop","queue":3,
   "processes":[
     {"pid":4242,"user":"shop","uptime_s":3720,"requests":10230,"in_flight":1,"rss_bytes":24536000},
     {"pid":4243,"user":"shop","uptime_s":59,"requests":7,"in_flight":0,"rss_bytes":8388608}],
   "restarts":[{"at":1735689600,"pid":4100,"reason":"recycling: 10000 requests served (maximum-requests)"}]},
  {"name":"blog","queue":0,"processes":[
     {"pid":5000,"user":"blog","uptime_s":90000,"requests":1,"in_flight":0,"rss_bytes":1000}],
   "restarts":[]}]}"#;

#[test]
fn status_prints_the_status_page_as_a_table() {
    let (port, server) = canned_server("200 OK", STATUS_JSON);
    let text = stdout(&rustgi(&[
        "status",
        &format!("http://127.0.0.1:{port}/server-status"),
    ]));
    let request = server.join().unwrap();
    assert_eq!(request[0], "GET /server-status?json HTTP/1.0");
    assert!(
        request.contains(&format!("Host: 127.0.0.1:{port}")),
        "{request:?}"
    );
    assert_eq!(
        text,
        "group shop: 2 processes, 3 queued, 1 restart\n\
         \x20  PID  USER  UPTIME  REQUESTS  IN FLIGHT       RSS\n\
         \x20 4242  shop   1h02m     10230          1  23.4 MiB\n\
         \x20 4243  shop     59s         7          0   8.0 MiB\n\
         \x20 restarts:\n\
         \x20   2025-01-01 00:00:00  pid 4100  recycling: 10000 requests served (maximum-requests)\n\
         \n\
         group blog: 1 process, 0 queued, 0 restarts\n\
         \x20  PID  USER  UPTIME  REQUESTS  IN FLIGHT     RSS\n\
         \x20 5000  blog   1d01h         1          0  1000 B\n"
    );

    // --host sends another Host header (a status page in a name-based
    // virtual host, reached by address).
    let (port, server) = canned_server("200 OK", STATUS_JSON);
    stdout(&rustgi(&[
        "status",
        "--host",
        "shop.example",
        &format!("http://127.0.0.1:{port}/server-status"),
    ]));
    let request = server.join().unwrap();
    assert!(
        request.contains(&"Host: shop.example".to_owned()),
        "{request:?}"
    );
    let out = rustgi(&["status", "--host", "a b", "http://127.0.0.1:1/"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a host name"));

    // --json prints the document.
    let (port, server) = canned_server("200 OK", STATUS_JSON);
    let text = stdout(&rustgi(&[
        "status",
        "--json",
        &format!("http://127.0.0.1:{port}/s?x=1"),
    ]));
    assert_eq!(server.join().unwrap()[0], "GET /s?x=1&json HTTP/1.0");
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["groups"][0]["processes"][0]["pid"], 4242);
}

#[test]
fn status_reports_errors() {
    let (port, server) = canned_server("404 Not Found", "nope");
    let out = rustgi(&["status", &format!("http://127.0.0.1:{port}/x")]);
    server.join().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("answered 404 Not Found"), "{err}");

    let (port, server) = canned_server("200 OK", "<html>not json</html>");
    let out = rustgi(&["status", &format!("http://127.0.0.1:{port}/x")]);
    server.join().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("did not answer a status document"), "{err}");

    let port = rustgi::free_port().unwrap();
    let out = rustgi(&["status", &format!("http://127.0.0.1:{port}/")]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot connect"));
    let out = rustgi(&["status"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("URL"));
}

#[test]
fn help_version_and_unknown_commands() {
    // No command is a usage error: the usage goes to stderr, the status is 2.
    let out = rustgi(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", output_text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("usage: rustgi COMMAND"));
    let text = stdout(&rustgi(&["help"]));
    for c in [
        "serve",
        "setup-server",
        "module-config",
        "install-module",
        "new",
        "status",
    ] {
        assert!(text.contains(c), "{c} missing from\n{text}");
    }
    let text = stdout(&rustgi(&["help", "serve"]));
    for option in [
        "--port",
        "--host",
        "--processes",
        "--threads",
        "--url-alias",
        "--user",
        "--group",
        "--app-config",
        "--embedded",
        "--reload-on-changes",
        "--https-port",
        "--ssl-cert",
        "--ssl-key",
        "--mpm",
    ] {
        assert!(text.contains(option), "{option} missing from\n{text}");
    }
    assert!(stdout(&rustgi(&["serve", "--help"])).starts_with("usage: rustgi serve"));
    assert!(stdout(&rustgi(&["--version"])).starts_with("rustgi "));
    let out = rustgi(&["frobnicate"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown command 'frobnicate'"));
}
