//! `rustgi serve` against the real Apache: a daemon group by default,
//! `--embedded`, the options that shape the configuration, HTTPS with
//! HTTP/2 and a streamed response, reloading on changes, and Ctrl-C
//! (SIGINT) stopping Apache and everything it started.

use crate::cli_common;
use crate::common;

use std::fs;
use std::process::Command;
use std::time::Duration;

use cli_common::{Serve, group_alive, have, is_gone, self_signed_cert, wait_until};
use common::daemon::{children_of, daemon_children, proc_title};
use common::http::{self, Request};
use common::{Artifact, copy_readable, running_as_root, sha256_hex, temp_dir};

const STOP: Duration = Duration::from_secs(20);

fn get(serve: &Serve, target: &str) -> common::Response {
    http::send(serve.addr(), &Request::get(target))
        .unwrap_or_else(|e| panic!("GET {target}: {e}\n{}", serve.log()))
}

/// Sends SIGINT and checks that rustgi, Apache's parent, its children and
/// every daemon process are gone, and the port is closed.
fn interrupt_and_check_all_gone(serve: &mut Serve, apache: u32, others: &[u32]) {
    let status = serve.interrupt(STOP);
    assert!(
        status.success(),
        "rustgi exited with {status}:\n{}",
        serve.log()
    );
    assert!(is_gone(apache), "Apache's parent {apache} is still running");
    for pid in others {
        assert!(
            is_gone(*pid),
            "process {pid} is still running:\n{}",
            serve.log()
        );
    }
    assert!(
        !group_alive(apache),
        "processes of Apache's group are still running:\n{}",
        serve.log()
    );
    assert!(
        std::net::TcpStream::connect(serve.addr()).is_err(),
        "port {} still open",
        serve.port
    );
    let log = serve.log();
    assert!(log.contains("rustgi: stopped"), "{log}");
}

#[test]
fn serve_runs_the_app_in_a_daemon_group_and_ctrl_c_stops_everything() {
    let dir = temp_dir("rustgi-cli-serve-");
    let app = dir.path().join("libecho.so");
    copy_readable(&Artifact::Echo.path(), &app);
    let statics = dir.path().join("static");
    fs::create_dir(&statics).unwrap();
    fs::write(statics.join("hello.txt"), "static bytes\n").unwrap();
    let root = dir.path().join("root");
    let app_s = app.display().to_string();
    let statics_s = statics.display().to_string();
    let mut serve = Serve::start(
        &[
            &app_s,
            "--processes",
            "2",
            "--threads",
            "3",
            "--app-config",
            "greeting=hello there",
            "--url-alias",
            "/static",
            &statics_s,
            "--status-url",
            "/rustgi-status",
        ],
        &root,
        cli_common::SERVE_START,
    );

    let resp = get(&serve, "/some/path?x=1");
    assert_eq!(resp.status(), 200, "{}\n{}", resp.text(), serve.log());
    let echo = common::Echo::new(resp.json());
    assert_eq!(echo.str("path_info"), "/some/path");
    assert_eq!(echo.env("rustgi.process_group").as_deref(), Some("echo"));
    assert_eq!(
        echo.config().get("greeting").map(String::as_str),
        Some("hello there")
    );

    // Static files are Apache's: the app never sees them.
    let resp = get(&serve, "/static/hello.txt");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text(), "static bytes\n");

    // The configuration: a daemon group with the options, restricted
    // embedded mode, the socket in the server root; an apachectl beside it.
    let conf = fs::read_to_string(root.join("httpd.conf")).unwrap();
    for want in [
        "RustgiDaemonProcess echo processes=2 threads=3",
        "RustgiRestrictEmbedded On",
        "RustgiScriptReloading Off",
        &format!("RustgiSocketPrefix \"{}/rustgi\"", root.display()),
    ] {
        assert!(conf.contains(want), "missing {want:?} in\n{conf}");
    }
    assert!(root.join("apachectl").is_file());

    // Two daemon processes, children of Apache's parent, child of rustgi.
    let apache = serve.apache_pid();
    assert_eq!(children_of(serve.pid()), vec![apache]);
    let mut daemons = Vec::new();
    assert!(
        wait_until(Duration::from_secs(10), || {
            daemons = daemon_children(apache);
            daemons.len() == 2
        }),
        "daemons: {daemons:?}\n{}",
        serve.log()
    );
    for pid in &daemons {
        assert_eq!(proc_title(*pid).as_deref(), Some("(rustgi:echo)"));
    }
    let pids: std::collections::BTreeSet<u64> = (0..20)
        .map(|_| common::daemon::json_pid(&get(&serve, "/pid")).unwrap())
        .collect();
    assert!(
        pids.iter().all(|p| daemons.contains(&(*p as u32))),
        "served by {pids:?}, daemons {daemons:?}"
    );

    // The status page, as rustgi status shows it: the group and its two
    // processes; after one is killed, its restart and its successor.
    let url = format!("http://127.0.0.1:{}/rustgi-status", serve.port);
    let status_table = || {
        let out = cli_common::rustgi(&["status", &url]);
        assert!(out.status.success(), "{}", cli_common::output_text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let user = if running_as_root() { "nobody" } else { "" };
    let mut table = String::new();
    let listed = wait_until(Duration::from_secs(10), || {
        table = status_table();
        table.starts_with("group echo: 2 processes, 0 queued, 0 restarts\n")
            && daemons
                .iter()
                .all(|pid| table.contains(&format!(" {pid}  {user}")))
    });
    assert!(listed, "{table}");
    common::daemon::send_signal(daemons[0], libc::SIGKILL);
    let restarted = wait_until(Duration::from_secs(10), || {
        table = status_table();
        table.contains("1 restart\n")
            && table.contains(&format!("  pid {}  ", daemons[0]))
            && !table.contains(&format!(" {}  {user}", daemons[0]))
            && table.lines().filter(|l| l.contains(" serving")).count() == 2
    });
    assert!(restarted, "{table}\n{}", serve.log());
    daemons = daemon_children(apache);

    // Logs are on the terminal (here: the output file).
    let log = serve.log();
    assert!(log.contains("resuming normal operations"), "{log}");
    assert!(
        log.contains("\"GET /static/hello.txt HTTP/1.1\" 200"),
        "{log}"
    );
    assert!(
        log.contains("in daemon group echo (2 x 3 threads)"),
        "{log}"
    );

    let mut all = children_of(apache);
    all.extend(&daemons);
    interrupt_and_check_all_gone(&mut serve, apache, &all);
}

#[test]
fn serve_embedded_runs_the_app_in_apaches_children() {
    let dir = temp_dir("rustgi-cli-embedded-");
    let app = dir.path().join("libecho.so");
    copy_readable(&Artifact::Echo.path(), &app);
    let root = dir.path().join("root");
    let mut serve = Serve::start(
        &[
            &app.display().to_string(),
            "--embedded",
            "--mpm",
            "prefork",
            "--mount-point",
            "/app",
        ],
        &root,
        cli_common::SERVE_START,
    );
    let resp = get(&serve, "/app/x");
    assert_eq!(resp.status(), 200, "{}", resp.text());
    let echo = common::Echo::new(resp.json());
    assert_eq!(echo.str("script_name"), "/app");
    assert_eq!(
        echo.env("rustgi.process_group").as_deref(),
        Some("%{GLOBAL}")
    );
    let apache = serve.apache_pid();
    assert!(daemon_children(apache).is_empty());
    // The app runs in one of Apache's (prefork) children.
    let children = children_of(apache);
    let pid = echo.num("pid") as u32;
    assert!(children.contains(&pid), "{pid} not in {children:?}");
    let conf = fs::read_to_string(root.join("httpd.conf")).unwrap();
    assert!(conf.contains("mod_mpm_prefork.so"));
    assert!(!conf.contains("RustgiDaemonProcess"));
    interrupt_and_check_all_gone(&mut serve, apache, &children);
}

#[test]
fn serve_https_speaks_http2_and_streams() {
    let dir = temp_dir("rustgi-cli-tls-");
    if !have("curl") || !have("openssl") {
        eprintln!("SKIPPED serve_https_speaks_http2_and_streams: curl or openssl is missing");
        return;
    }
    let curl_features = Command::new("curl").arg("--version").output().unwrap();
    if !String::from_utf8_lossy(&curl_features.stdout).contains("HTTP2") {
        eprintln!("SKIPPED serve_https_speaks_http2_and_streams: this curl has no HTTP/2");
        return;
    }
    let (cert, key) = self_signed_cert(dir.path()).expect("openssl");
    let app = dir.path().join("libecho.so");
    copy_readable(&Artifact::Echo.path(), &app);
    let root = dir.path().join("root");
    let mut args = vec![
        app.display().to_string(),
        "--https-port".to_owned(),
        "@PORT2@".to_owned(),
        "--ssl-cert".to_owned(),
        cert.display().to_string(),
        "--ssl-key".to_owned(),
        key.display().to_string(),
    ];
    // As root, --user chooses who Apache's children and the daemons run
    // as; the group is the user's own.
    let www = common::daemon::lookup_user("www-data").filter(|_| running_as_root());
    if www.is_some() {
        args.extend(["--user".to_owned(), "www-data".to_owned()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut serve = Serve::start(&args, &root, cli_common::SERVE_START);
    let conf = fs::read_to_string(root.join("httpd.conf")).unwrap();
    let https_port: u16 = conf
        .lines()
        .find_map(|l| l.strip_prefix("<VirtualHost *:"))
        .and_then(|p| p.trim_end_matches('>').parse().ok())
        .unwrap_or_else(|| panic!("no HTTPS virtual host in\n{conf}"));
    let base = format!("https://127.0.0.1:{https_port}");
    // Apache may still be starting its TLS listener's children.
    let curl = |args: &[&str]| {
        Command::new("curl")
            .args(["-sS", "-k", "--max-time", "20"])
            .args(args)
            .output()
            .unwrap()
    };

    // HTTP/2 over TLS, a 1 MB response streamed in flushed pieces.
    let size = 1_000_000;
    let out = curl(&[
        "--http2",
        "-o",
        "-",
        "-w",
        "\n%{http_version} %{http_code}",
        &format!("{base}/?size={size}"),
    ]);
    assert!(out.status.success(), "{}", cli_common::output_text(&out));
    let (body, trailer) = out.stdout.split_at(out.stdout.len() - b"\n2 200".len());
    assert_eq!(trailer, b"\n2 200", "{}", String::from_utf8_lossy(trailer));
    assert_eq!(body.len(), size);
    assert!(
        body.iter()
            .enumerate()
            .all(|(i, b)| *b == b'a' + (i % 26) as u8),
        "the body is not a..z repeated"
    );

    // A response that waits between its pieces arrives piece by piece:
    // part1 is there before the app is let go on to part2.
    let wait_dir = dir.path().join("wait");
    fs::create_dir(&wait_dir).unwrap();
    let go = wait_dir.join("go");
    let out_file = dir.path().join("stream.out");
    let mut streaming = Command::new("curl")
        .args(["-sS", "-k", "--http2", "-N", "--max-time", "20", "-o"])
        .arg(&out_file)
        .arg(format!("{base}/?stream_wait={}", go.display()))
        .spawn()
        .unwrap();
    let part1 = wait_until(Duration::from_secs(10), || {
        fs::read_to_string(&out_file).is_ok_and(|t| t == "part1\n")
    });
    assert!(
        part1,
        "part1 did not arrive alone: {:?}\n{}",
        fs::read_to_string(&out_file),
        serve.log()
    );
    fs::write(&go, "").unwrap();
    assert!(streaming.wait().unwrap().success());
    assert_eq!(fs::read_to_string(&out_file).unwrap(), "part1\npart2\n");

    // A request body over TLS reaches the daemon whole: mod_ssl hands the
    // body on in buffers it reuses, which the module must not keep as they
    // are while it reads more.
    let upload = common::pseudo_random(3_000_000, 7);
    let upload_file = dir.path().join("upload.bin");
    fs::write(&upload_file, &upload).unwrap();
    for version in ["--http1.1", "--http2"] {
        let out = curl(&[
            version,
            "-T",
            &upload_file.display().to_string(),
            &format!("{base}/up"),
        ]);
        assert!(out.status.success(), "{}", cli_common::output_text(&out));
        let echo = common::Echo::new(serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!("{version}: {e}: {}", String::from_utf8_lossy(&out.stdout))
        }));
        assert_eq!(echo.num("body_len"), upload.len() as u64, "{version}");
        assert_eq!(echo.str("body_sha256"), sha256_hex(&upload), "{version}");
    }

    // The environ says HTTPS; HTTP/1.1 over TLS and plain HTTP work too.
    let out = curl(&["--http1.1", &format!("{base}/env")]);
    let echo = common::Echo::new(serde_json::from_slice(&out.stdout).unwrap());
    assert_eq!(echo.env("HTTPS").as_deref(), Some("on"));
    assert_eq!(echo.env("SERVER_PROTOCOL").as_deref(), Some("HTTP/1.1"));
    assert_eq!(echo.env("rustgi.process_group").as_deref(), Some("echo"));
    if let Some(www) = &www {
        assert_eq!(echo.num("uid"), u64::from(www.uid));
        assert_eq!(echo.num("gid"), u64::from(www.gid));
        let conf = fs::read_to_string(root.join("httpd.conf")).unwrap();
        assert!(conf.contains("\nUser www-data\n"), "{conf}");
    }
    let resp = get(&serve, "/plain");
    assert_eq!(resp.status(), 200);
    let log = serve.log();
    assert!(log.contains("HTTP/2.0\" 200"), "{log}");

    let apache = serve.apache_pid();
    let daemons = daemon_children(apache);
    interrupt_and_check_all_gone(&mut serve, apache, &daemons);
}

#[test]
fn serve_embedded_reloads_a_replaced_library() {
    let dir = temp_dir("rustgi-cli-reload-");
    let app = dir.path().join("libapp.so");
    copy_readable(&Artifact::Echo.path(), &app);
    let root = dir.path().join("root");
    let mut serve = Serve::start(
        &[
            &app.display().to_string(),
            "--embedded",
            "--reload-on-changes",
        ],
        &root,
        cli_common::SERVE_START,
    );
    let resp = get(&serve, "/");
    assert_eq!(resp.status(), 200);
    assert!(resp.text().starts_with('{'), "{}", resp.text());
    // Deploy another app over it (a new file renamed into place).
    let next = dir.path().join("libapp.so.new");
    copy_readable(&Artifact::Hello.path(), &next);
    fs::rename(&next, &app).unwrap();
    let mut last = String::new();
    let reloaded = wait_until(Duration::from_secs(15), || {
        last = http::send(serve.addr(), &Request::get("/"))
            .map(|r| r.text())
            .unwrap_or_else(|e| e.to_string());
        last == "Hello, World!"
    });
    assert!(reloaded, "still answering {last:?}\n{}", serve.log());
    assert!(serve.log().contains("restarting Apache gracefully"));
    let apache = serve.apache_pid();
    let children = children_of(apache);
    interrupt_and_check_all_gone(&mut serve, apache, &children);
}

#[test]
fn serve_refuses_what_it_cannot_serve() {
    let dir = temp_dir("rustgi-cli-bad-");
    let out = cli_common::rustgi(&["serve", "/nonexistent/libx.so"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        cli_common::output_text(&out)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/libx.so"), "{err}");

    let out = cli_common::rustgi(&["serve", &dir.path().display().to_string()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("without a Cargo.toml"), "{err}");

    let out = cli_common::rustgi(&["serve", "x.so", "--https-port", "8443"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--ssl-cert"), "{err}");

    // A file that is not an app: Apache refuses it at start-up, and
    // rustgi says so and fails.
    let bogus = dir.path().join("libbogus.so");
    fs::write(&bogus, "not an ELF file").unwrap();
    let root = dir.path().join("root");
    let out = cli_common::rustgi(&[
        "serve",
        &bogus.display().to_string(),
        "--port",
        &rustgi::free_port().unwrap().to_string(),
        "--server-root",
        &root.display().to_string(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        cli_common::output_text(&out)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("RustgiScriptAlias: cannot use"), "{err}");
    assert!(err.contains("Apache exited"), "{err}");
}

/// `rustgi serve app.py` does what `mod_wsgi-express start-server app.py`
/// does: the script in a daemon group, its directory on sys.path, and
/// `--python-home` a venv.
#[test]
fn serve_a_wsgi_script() {
    let dir = temp_dir("rustgi-cli-serve-py-");
    // The module, the daemon and the bridge where the daemon's user can
    // read them, whatever the checkout's permissions.
    let modules = dir.path().join("modules");
    fs::create_dir(&modules).unwrap();
    for artifact in [Artifact::Module, Artifact::PythonBridge] {
        copy_readable(&artifact.path(), &modules.join(artifact.file_name()));
    }
    let daemon = modules.join(common::daemon::DAEMON_EXE);
    copy_readable(&common::daemon::daemon_executable(), &daemon);
    fs::set_permissions(&daemon, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let site = dir.path().join("site");
    fs::create_dir(&site).unwrap();
    fs::set_permissions(&site, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    fs::write(
        site.join("greeting.py"),
        "WORDS = 'hello from a module beside the script'\n",
    )
    .unwrap();
    fs::write(
        site.join("app.py"),
        "import markupsafe\nimport greeting\n\n\
         def application(environ, start_response):\n    \
         body = f\"{greeting.WORDS}, markupsafe {markupsafe.__version__}\".encode()\n    \
         start_response('200 OK', [('Content-Type', 'text/plain')])\n    \
         return [body]\n",
    )
    .unwrap();
    for f in ["greeting.py", "app.py"] {
        fs::set_permissions(
            site.join(f),
            std::os::unix::fs::PermissionsExt::from_mode(0o644),
        )
        .unwrap();
    }
    let root = dir.path().join("root");
    let app = site.join("app.py").display().to_string();
    let module = modules
        .join(Artifact::Module.file_name())
        .display()
        .to_string();
    let venv = common::python::venv().display().to_string();
    let mut serve = Serve::start(
        &[&app, "--python-home", &venv, "--module", &module],
        &root,
        cli_common::SERVE_START,
    );
    let resp = get(&serve, "/");
    assert_eq!(resp.status(), 200, "{}\n{}", resp.text(), serve.log());
    assert!(
        resp.text()
            .starts_with("hello from a module beside the script, markupsafe "),
        "{}",
        resp.text()
    );
    let conf = fs::read_to_string(root.join("httpd.conf")).unwrap();
    for want in [
        "RustgiDaemonProcess app ",
        &format!("\"python-home={venv}\""),
        &format!("\"python-path={}\"", site.display()),
    ] {
        assert!(conf.contains(want), "missing {want:?} in\n{conf}");
    }
    let status = serve.interrupt(STOP);
    assert!(status.success(), "{}", serve.log());
}
