//! Real frameworks from PyPI, unchanged, in a venv given as `python-home=`:
//! Flask and PoorWSGI (routes, forms, a 5 MB upload, JSON, a streamed
//! response, sessions), and 15Watt_Wsgi with its README's configuration,
//! renamed (a new process for every request).

use crate::common;

use std::collections::BTreeSet;

use common::daemon::{require_daemon, test_user};
use common::http::Request;
use common::python::{copy_app, venv};
use common::{TestServer, running_as_root};
use sha2::{Digest, Sha256};

/// A daemon group serving the app directory `app` (its `wsgi.py`) from the
/// venv; `embedded` runs it in Apache's children instead.
fn framework_server(app: &str, embedded: bool) -> TestServer {
    require_daemon();
    let venv = venv();
    let b = TestServer::builder().modules_copied();
    let dir = b.root().join(app);
    copy_app(app, &dir);
    let config = if embedded {
        format!(
            "RustgiPythonHome {venv}\n\
             RustgiScriptAlias / {dir}/wsgi.py process-group=%{{GLOBAL}}\n",
            venv = venv.display(),
            dir = dir.display()
        )
    } else {
        format!(
            "RustgiDaemonProcess {app} processes=2 threads=4 python-home={venv} home={dir}\n\
             RustgiProcessGroup {app}\n\
             RustgiScriptAlias / {dir}/wsgi.py\n",
            venv = venv.display(),
            dir = dir.display()
        )
    };
    b.config(&format!(
        "{config}<Directory {dir}>\n    Require all granted\n</Directory>",
        dir = dir.display()
    ))
    .start()
}

fn multipart(boundary: &str, parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, filename, data) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match filename {
            Some(f) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\n\
                     Content-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    body
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What both frameworks' apps answer, the same way.
fn exercise(srv: &TestServer, what: &str) {
    let resp = srv.get("/hello/world");
    assert_eq!(
        resp.status(),
        200,
        "{what}: {}\n{}",
        resp.text(),
        srv.error_log()
    );
    assert_eq!(resp.text(), "Hello, world!", "{what}");

    let resp = srv.send(
        &Request::post("/form")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body("name=J%C3%BCrgen&color=red&color=blue"),
    );
    assert_eq!(resp.status(), 200, "{what} form: {}", resp.text());
    let form = resp.json();
    assert_eq!(form["name"], "Jürgen", "{what}");
    assert_eq!(form["colors"], serde_json::json!(["red", "blue"]), "{what}");

    let upload: Vec<u8> = (0..5 * 1024 * 1024u32)
        .map(|i| (i * 7 % 256) as u8)
        .collect();
    let boundary = "rustgi-test-boundary-8a7d";
    let body = multipart(
        boundary,
        &[
            ("note", None, b"five megabytes"),
            ("file", Some("big.bin"), &upload),
        ],
    );
    let resp = srv.send(
        &Request::post("/upload")
            .header(
                "Content-Type",
                &format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body),
    );
    assert_eq!(
        resp.status(),
        200,
        "{what} upload: {}\n{}",
        resp.text(),
        srv.error_log()
    );
    let got = resp.json();
    assert_eq!(got["filename"], "big.bin", "{what}");
    assert_eq!(got["size"], upload.len(), "{what}");
    assert_eq!(got["sha256"], hex(&Sha256::digest(&upload)), "{what}");
    assert_eq!(got["note"], "five megabytes", "{what}");

    let resp = srv.send(
        &Request::post("/json")
            .header("Content-Type", "application/json")
            .body(r#"{"numbers": [1, 2, 39], "name": "ü"}"#),
    );
    assert_eq!(resp.status(), 200, "{what} json: {}", resp.text());
    let got = resp.json();
    assert_eq!(got["total"], 42, "{what}");
    assert_eq!(got["got"]["name"], "ü", "{what}");

    let resp = srv.get("/stream");
    assert_eq!(resp.status(), 200, "{what} stream");
    assert_eq!(
        resp.text(),
        "line 0\nline 1\nline 2\nline 3\nline 4\n",
        "{what}"
    );

    // The session cookie carries the count from one request to the next.
    let first = srv.get("/session");
    assert_eq!(first.text(), "1", "{what}");
    let session_cookie = |resp: &common::Response| {
        resp.header("Set-Cookie")
            .unwrap_or_else(|| panic!("{what}: no session cookie"))
            .split(';')
            .next()
            .unwrap()
            .to_owned()
    };
    let mut cookie = session_cookie(&first);
    for n in 2..=3 {
        let resp = srv.send(&Request::get("/session").header("Cookie", &cookie));
        assert_eq!(resp.text(), n.to_string(), "{what}: session count");
        cookie = session_cookie(&resp);
    }

    let resp = srv.get("/no/such/route");
    assert_eq!(resp.status(), 404, "{what}");
}

#[test]
fn flask_in_a_daemon_group() {
    let srv = framework_server("flask_app", false);
    exercise(&srv, "Flask");
    // A C extension module from the venv loads (MarkupSafe's, for Jinja2).
    let resp = srv.get("/speedups");
    assert_eq!(resp.status(), 200, "{}\n{}", resp.text(), srv.error_log());
    assert!(resp.text().ends_with(".so"), "{}", resp.text());
}

#[test]
fn poorwsgi_in_a_daemon_group() {
    exercise(&framework_server("poorwsgi_app", false), "PoorWSGI");
}

#[test]
fn flask_embedded() {
    let srv = framework_server("flask_app", true);
    exercise(&srv, "Flask embedded");
    let resp = srv.get("/speedups");
    assert_eq!(resp.status(), 200, "{}\n{}", resp.text(), srv.error_log());
    assert!(resp.text().ends_with(".so"), "{}", resp.text());
}

/// 15Watt_Wsgi's README deploys with this, for development: a new process
/// for every request. Renamed, it works, and no request fails.
#[test]
fn fifteen_watt_readme_configuration_renamed() {
    require_daemon();
    let venv = venv();
    let mut b = TestServer::builder()
        .modules_copied()
        .module("access_compat");
    let files = b.root().join("files");
    let statics = b.root().join("static");
    copy_app("watt_app", &files);
    b.add_file("static/css/site.css", "body {}\n");
    let user = if running_as_root() {
        let user = test_user("rustgi-watt").expect("test user");
        format!("user={} group={}", user.name, "nogroup")
    } else {
        String::new()
    };
    let srv = b
        .config(&format!(
            "DocumentRoot {statics}\n\
             RustgiScriptAlias / {files}/application.py\n\
             RustgiProcessGroup name_of_your_wsgi_daemon_process\n\
             RustgiDaemonProcess name_of_your_wsgi_daemon_process {user} processes=1 threads=1 \
             maximum-requests=1 home={files} python-path={files} python-home={venv}\n\
             <Directory {statics}/>\n\
                 Options -Indexes -FollowSymLinks -MultiViews -Includes\n\
                 AllowOverride None\n\
                 Require all granted\n\
                 allow from all\n\
             </Directory>\n\
             <Directory {files}/>\n\
                 Require all granted\n\
                 Options FollowSymLinks\n\
                 AllowOverride None\n\
                 Header set Access-Control-Allow-Origin '*'\n\
             </Directory>\n\
             Alias /css/ {statics}/css/\n",
            statics = statics.display(),
            files = files.display(),
            venv = venv.display(),
        ))
        .start();

    // Apache serves the static files itself.
    let css = srv.get("/css/site.css");
    assert_eq!(css.status(), 200);
    assert_eq!(css.text(), "body {}\n");

    let mut pids = BTreeSet::new();
    for i in 0..20 {
        let resp = srv.get("/");
        assert_eq!(
            resp.status(),
            200,
            "request {i}: {}\n{}",
            resp.text(),
            srv.error_log()
        );
        let text = resp.text();
        let pid = text
            .strip_prefix("Hello World from pid ")
            .unwrap_or_else(|| panic!("request {i}: {text}"));
        pids.insert(pid.to_owned());
        assert_eq!(resp.header("X-Framework"), Some("Wsgi by Thomas Siemion"));
        assert_eq!(resp.header("Access-Control-Allow-Origin"), Some("*"));
    }
    // maximum-requests=1: each request had a fresh process.
    assert_eq!(pids.len(), 20, "one process per request: {pids:?}");

    let resp = srv.get("/with/params/42/machWas");
    assert_eq!(resp.status(), 200, "{}", resp.text());
    assert_eq!(resp.text(), "Hello World, id = 42 what = \"machWas\"");
}

/// A mod_wsgi configuration, the README's, becomes mod_rustgi's by
/// renaming its directives: `WSGI…` → `Rustgi…`, options kept.
#[test]
fn a_mod_wsgi_configuration_renamed_serves() {
    require_daemon();
    let venv = venv();
    let b = TestServer::builder().modules_copied();
    let site = b.root().join("site");
    copy_app("flask_app", &site);
    let mod_wsgi = format!(
        "WSGISocketPrefix run/wsgi\n\
         WSGIPythonHome {venv}\n\
         WSGIScriptReloading On\n\
         WSGIDaemonProcess shop processes=2 threads=15 display-name=%{{GROUP}} \
         python-home={venv} python-path={site} home={site} \
         lang=C.UTF-8 locale=C.UTF-8 maximum-requests=10000 inactivity-timeout=300\n\
         WSGIProcessGroup shop\n\
         WSGIScriptAlias / {site}/wsgi.py process-group=shop application-group=%{{GLOBAL}}\n\
         <Directory {site}>\n    Require all granted\n</Directory>",
        venv = venv.display(),
        site = site.display()
    );
    let srv = b.config(&mod_wsgi.replace("WSGI", "Rustgi")).start();
    let resp = srv.get("/hello/apache");
    assert_eq!(resp.status(), 200, "{}\n{}", resp.text(), srv.error_log());
    assert_eq!(resp.text(), "Hello, apache!");
    // The relative socket prefix is under ServerRoot, as mod_wsgi has it.
    assert!(
        srv.root().join("run/wsgi/shop.sock").exists(),
        "no socket in {}/run/wsgi",
        srv.root().display()
    );
}

/// `rustgi migrate` turns 15Watt_Wsgi's README configuration (a mod_wsgi
/// one, with its trailing comments) into one that passes `apache2 -t` and
/// serves the app.
#[test]
fn rustgi_migrate_turns_the_fifteen_watt_configuration_into_a_working_one() {
    require_daemon();
    let venv = venv();
    let b = TestServer::builder()
        .modules_copied()
        .module("access_compat");
    let files = b.root().join("files");
    let statics = b.root().join("static");
    copy_app("watt_app", &files);
    std::fs::create_dir_all(statics.join("css")).unwrap();
    common::make_traversable(&statics);
    common::make_traversable(&statics.join("css"));
    let user = if running_as_root() {
        let user = test_user("rustgi-watt").expect("test user");
        format!("user={} group=nogroup", user.name)
    } else {
        String::new()
    };
    let mod_wsgi = format!(
        "DocumentRoot {statics} # Where your static html-files are stored\n\
         \n\
         WSGIScriptAlias / {files}/application.py # Where your application.py is stored and invoked by calling http[s]://your.server.name/\n\
         WSGIProcessGroup name_of_your_wsgi_daemon_process # The name of your WSGIDaemonProcess\n\
         \n\
         # For development, each request loads a new python interpreter / application.py, no need the reload the web server\n\
         WSGIDaemonProcess name_of_your_wsgi_daemon_process {user} processes=1 threads=1 maximum-requests=1 home={files} python-path={files} python-home={venv}\n\
         \n\
         <Directory {statics}/>\n\
         # Read the Apache2 docu https://httpd.apache.org/docs/2.4/mod/core.html#directory\n\
         Options -Indexes -FollowSymLinks -MultiViews -Includes\n\
         AllowOverride None\n\
         Require all granted\n\
         allow from all\n\
         </Directory>\n\
         <Directory {files}/>\n\
         Require all granted\n\
         Options FollowSymLinks\n\
         AllowOverride None\n\
         Header set Access-Control-Allow-Origin '*' # I'm not sure if this is needed\n\
         </Directory>\n\
         Alias /css/ {statics}/css/\n",
        statics = statics.display(),
        files = files.display(),
        venv = venv.display(),
    );
    let input = b.root().join("mod_wsgi.conf");
    std::fs::write(&input, &mod_wsgi).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rustgi"))
        .args(["migrate", input.to_str().unwrap()])
        .output()
        .expect("run rustgi migrate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let migrated = String::from_utf8(out.stdout).unwrap();
    assert!(
        !migrated.lines().any(|l| l.trim_start().starts_with("WSGI")),
        "{migrated}"
    );
    assert!(
        migrated.contains(
            "# I'm not sure if this is needed\nHeader set Access-Control-Allow-Origin '*'"
        ),
        "{migrated}"
    );
    let srv = b.config(&migrated).start();
    let resp = srv.get("/");
    assert_eq!(resp.status(), 200, "{}\n{}", resp.text(), srv.error_log());
    assert!(
        resp.text().starts_with("Hello World from pid "),
        "{}",
        resp.text()
    );
    assert_eq!(resp.header("Access-Control-Allow-Origin"), Some("*"));
}
