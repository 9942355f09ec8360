//! The Rustgi* directives: mounting, process groups, app configuration,
//! Authorization passing, and the configuration errors `apache2 -t` reports.

use crate::common;

use std::path::{Path, PathBuf};

use common::{Artifact, Request, TestServer, compile_c_library, copy_readable, map, temp_dir};

#[test]
fn script_alias_longest_prefix_wins_at_segment_boundaries() {
    let srv = TestServer::builder()
        .app(Artifact::Hello)
        .app(Artifact::Echo)
        .config(
            "RustgiScriptAlias / @APPS@/libecho.so\n\
             RustgiScriptAlias /hello @APPS@/libhello.so\n\
             RustgiScriptAlias /hello/echo/ @APPS@/libecho.so",
        )
        .start();

    for path in [
        "/hello",
        "/hello/",
        "/hello/x",
        "/hello/x/y?q=1",
        "/hello/echox",
    ] {
        let resp = srv.get(path);
        assert_eq!(resp.status(), 200, "{path}: {}", resp.text());
        assert_eq!(resp.text(), "Hello, World!", "{path}");
        let ct = resp.header("Content-Type").unwrap_or_default();
        assert!(ct.starts_with("text/plain"), "{path}: Content-Type {ct:?}");
    }

    for (path, script_name, path_info) in [
        ("/", "", "/"),
        ("/helloworld", "", "/helloworld"),
        ("/hell", "", "/hell"),
        ("/other/x/", "", "/other/x/"),
        ("/hello/echo", "/hello/echo", ""),
        ("/hello/echo/", "/hello/echo", "/"),
        ("/hello/echo/a/b", "/hello/echo", "/a/b"),
    ] {
        let echo = srv.echo(&Request::get(path));
        assert_eq!(echo.str("script_name"), script_name, "{path}");
        assert_eq!(echo.str("path_info"), path_info, "{path}");
        assert_eq!(
            echo.env("SCRIPT_NAME").as_deref(),
            Some(script_name),
            "{path}"
        );
        assert_eq!(echo.env("PATH_INFO").as_deref(), Some(path_info), "{path}");
    }
}

#[test]
fn script_alias_obeys_directory_access_control() {
    // As with WSGIScriptAlias, the URL maps onto the file: without access to
    // its directory (the base config denies `/`), Apache refuses.
    let srv = TestServer::builder()
        .grant_apps(false)
        .app(Artifact::Hello)
        .config("RustgiScriptAlias /hello @APPS@/libhello.so")
        .start();
    let resp = srv.get("/hello/x");
    assert_eq!(resp.status(), 403, "{}", resp.text());
    assert_ne!(resp.text(), "Hello, World!");
}

#[test]
fn process_group_global_is_accepted_in_every_scope() {
    let srv = TestServer::builder()
        .app(Artifact::Echo)
        .config(
            "RustgiProcessGroup %{GLOBAL}\n\
             RustgiScriptAlias /a @APPS@/libecho.so process-group=%{GLOBAL}\n\
             RustgiScriptAlias /b @APPS@/libecho.so\n\
             <Location /b>\n    RustgiProcessGroup %{GLOBAL}\n</Location>\n\
             <Directory @APPS@>\n    RustgiProcessGroup %{GLOBAL}\n</Directory>",
        )
        .start();
    for path in ["/a/x", "/b/y"] {
        let echo = srv.echo(&Request::get(path));
        assert_eq!(
            echo.env("rustgi.process_group").as_deref(),
            Some("%{GLOBAL}"),
            "{path}"
        );
    }
}

#[test]
fn app_config_inner_scopes_override_outer_ones_per_key() {
    let srv = TestServer::builder()
        .app(Artifact::Echo)
        .config(
            "RustgiAppConfig color red\n\
             RustgiAppConfig size small\n\
             RustgiScriptAlias /app @APPS@/libecho.so\n\
             <Directory @APPS@>\n    RustgiAppConfig dir yes\n</Directory>\n\
             <Location /app/inner>\n    RustgiAppConfig color blue\n    \
             RustgiAppConfig extra \"two words\"\n</Location>",
        )
        .start();

    let outer = srv.echo(&Request::get("/app/outer"));
    assert_eq!(
        outer.config(),
        map(&[("color", "red"), ("size", "small"), ("dir", "yes")])
    );
    let inner = srv.echo(&Request::get("/app/inner/x"));
    assert_eq!(
        inner.config(),
        map(&[
            ("color", "blue"),
            ("size", "small"),
            ("dir", "yes"),
            ("extra", "two words")
        ])
    );
    // init gets the pairs of the (virtual) host, not of a Directory/Location.
    let init = map(&[("color", "red"), ("size", "small")]);
    assert_eq!(outer.init_config(), init);
    assert_eq!(inner.init_config(), init);
}

const AUTHZ: &str = "Bearer e2e-token-1234";

#[test]
fn authorization_is_withheld_by_default() {
    let srv = TestServer::builder()
        .app(Artifact::Echo)
        .config("RustgiScriptAlias /app @APPS@/libecho.so")
        .start();
    let echo = srv.echo(&Request::get("/app/x").header("Authorization", AUTHZ));
    assert_eq!(echo.env("HTTP_AUTHORIZATION"), None);
    assert_eq!(echo.headers().get("authorization"), None);
    assert!(
        !echo.json.to_string().contains("e2e-token-1234"),
        "the credentials reached the app: {}",
        echo.json
    );
}

#[test]
fn pass_authorization_on_and_off_by_scope() {
    let srv = TestServer::builder()
        .app(Artifact::Echo)
        .config(
            "RustgiPassAuthorization On\n\
             RustgiScriptAlias /app @APPS@/libecho.so\n\
             <Location /app/off>\n    RustgiPassAuthorization Off\n</Location>",
        )
        .start();
    let echo = srv.echo(&Request::get("/app/on").header("Authorization", AUTHZ));
    assert_eq!(echo.env("HTTP_AUTHORIZATION").as_deref(), Some(AUTHZ));
    assert_eq!(
        echo.headers().get("authorization").map(String::as_str),
        Some(AUTHZ)
    );
    let echo = srv.echo(&Request::get("/app/off/x").header("Authorization", AUTHZ));
    assert_eq!(echo.env("HTTP_AUTHORIZATION"), None);
}

/// Files for the configuration error cases, made once per test.
struct BadApps {
    _dir: tempfile::TempDir,
    text: PathBuf,
    no_entry: PathBuf,
    module_copy: PathBuf,
    abi2: PathBuf,
    missing: PathBuf,
}

fn bad_apps() -> BadApps {
    let dir = temp_dir("rustgi-bad-apps-");
    let d = dir.path();
    let text = d.join("x.so");
    std::fs::write(&text, "this is a text file, not a shared library\n").unwrap();
    let no_entry = d.join("noentry.so");
    compile_c_library("int x(void) { return 1; }\n", &no_entry);
    let abi2 = d.join("abi2.so");
    compile_c_library(
        "__attribute__((visibility(\"default\"))) const unsigned rustgi_abi_version = 2;\n\
         __attribute__((visibility(\"default\"))) const void *rustgi_app_entry(void) { return 0; }\n",
        &abi2,
    );
    let module_copy = d.join("module-copy.so");
    copy_readable(&Artifact::Module.path(), &module_copy);
    BadApps {
        text,
        no_entry,
        module_copy,
        abi2,
        missing: d.join("missing.so"),
        _dir: dir,
    }
}

/// Checks that `apache2 -t` refuses the base configuration plus `bad`, and
/// that its output names the line and file of the first line of `bad` that
/// holds `needles[0]` (the directive), and contains each of `needles`
/// (case-insensitive; `a|b` accepts either).
fn assert_config_error(bad: &str, needles: &[&str]) {
    let echo = Artifact::Echo.path();
    let builder =
        TestServer::builder().config(&format!("RustgiScriptAlias /ok {}\n{bad}", echo.display()));
    let t = builder.config_test();
    assert!(
        !t.success,
        "apache2 -t accepted {bad:?}:\n{}\n--- httpd.conf ---\n{}",
        t.output, t.config
    );
    let start = t
        .config
        .lines()
        .position(|l| l == bad.lines().next().unwrap())
        .expect("the bad text is in the config");
    let offset = bad
        .lines()
        .position(|l| l.contains(needles[0]))
        .expect("the directive is in the bad text");
    let line = start + offset + 1;
    let path = t.config_path.display().to_string();
    let mut want = vec![format!("line {line} of {path}")];
    want.extend(needles.iter().map(|n| (*n).to_owned()));
    let lower = t.output.to_lowercase();
    for n in &want {
        assert!(
            n.split('|').any(|alt| lower.contains(&alt.to_lowercase())),
            "apache2 -t output for {bad:?} lacks {n:?}:\n{}",
            t.output
        );
    }
}

#[test]
fn valid_configuration_passes_the_config_test() {
    let echo = Artifact::Echo.path();
    let hello = Artifact::Hello.path();
    let t = TestServer::builder()
        .config(&format!(
            "RustgiProcessGroup %{{GLOBAL}}\n\
             RustgiPassAuthorization off\n\
             RustgiAppConfig k v\n\
             RustgiScriptAlias /ok {} process-group=%{{GLOBAL}}\n\
             RustgiScriptAlias /hello/ {}\n\
             <Location /ok>\n    RustgiAppConfig k w\n    RustgiPassAuthorization On\n</Location>",
            echo.display(),
            hello.display()
        ))
        .config_test();
    assert!(t.success, "{}\n--- httpd.conf ---\n{}", t.output, t.config);
    assert!(t.output.contains("Syntax OK"), "{}", t.output);
}

fn alias(p: &Path) -> String {
    format!("RustgiScriptAlias /bad {}", p.display())
}

fn path_of(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn config_error_missing_file() {
    let b = bad_apps();
    assert_config_error(
        &alias(&b.missing),
        &[
            "RustgiScriptAlias",
            &path_of(&b.missing),
            "No such file|does not exist|not found",
        ],
    );
}

#[test]
fn config_error_not_a_shared_library() {
    let b = bad_apps();
    assert_config_error(
        &alias(&b.text),
        &[
            "RustgiScriptAlias",
            &path_of(&b.text),
            "not a shared library",
        ],
    );
}

#[test]
fn config_error_no_entry_point() {
    let b = bad_apps();
    assert_config_error(
        &alias(&b.no_entry),
        &[
            "RustgiScriptAlias",
            &path_of(&b.no_entry),
            "rustgi_app_entry",
        ],
    );
    // A real shared library that is not an app: the module itself.
    assert_config_error(
        &alias(&b.module_copy),
        &[
            "RustgiScriptAlias",
            &path_of(&b.module_copy),
            "rustgi_app_entry",
        ],
    );
}

#[test]
fn config_error_other_abi_version() {
    let b = bad_apps();
    assert_config_error(
        &alias(&b.abi2),
        &["RustgiScriptAlias", &path_of(&b.abi2), "ABI version 2"],
    );
}

#[test]
fn config_error_bad_arguments() {
    let echo = Artifact::Echo.path().display().to_string();
    assert_config_error(
        "RustgiPassAuthorization Maybe",
        &["RustgiPassAuthorization", "Maybe"],
    );
    assert_config_error(
        "RustgiScriptAlias /only-one",
        &["RustgiScriptAlias", "argument|URL-PATH"],
    );
    assert_config_error(
        &format!("RustgiScriptAlias /x {echo} foo=bar"),
        &["RustgiScriptAlias", "foo=bar"],
    );
    assert_config_error(
        &format!("RustgiScriptAlias /x {echo} process-group=other"),
        &["RustgiScriptAlias", "other"],
    );
    assert_config_error("RustgiProcessGroup shop", &["RustgiProcessGroup", "shop"]);
    // RustgiScriptAlias belongs to the server and virtual hosts only.
    assert_config_error(
        &format!("<Location /x>\nRustgiScriptAlias /x {echo}\n</Location>"),
        &["RustgiScriptAlias", "not allowed"],
    );
    // Inside <Location> an undefined group is found per request (500 and a
    // log line; see daemon_isolation), since sections are merged per URL.
}
