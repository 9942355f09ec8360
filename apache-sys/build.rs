//! Generates the bindings from the installed httpd and APR headers and builds
//! the C shim. The header directories come from `apxs -q INCLUDEDIR` and
//! `apr-1-config --includedir`, so any distribution's layout works.

use std::env;
use std::path::PathBuf;
use std::process::Command;

const MISSING: &str = "\
apache-sys needs the Apache httpd and APR development headers.
On Debian or Ubuntu: apt-get install apache2-dev libclang-dev
(apache2-dev brings apxs, apr-1-config and the headers; bindgen needs libclang).";

/// Runs `program args` and returns its trimmed stdout, or None when it is
/// missing or fails.
fn query(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (!text.is_empty()).then_some(text)
}

fn include_dirs() -> Vec<PathBuf> {
    let apxs = env::var("APXS").unwrap_or_else(|_| "apxs".to_owned());
    let httpd = query(&apxs, &["-q", "INCLUDEDIR"]);
    let apr = query("apr-1-config", &["--includedir"])
        .or_else(|| query(&apxs, &["-q", "APR_INCLUDEDIR"]));
    let apu = query("apu-1-config", &["--includedir"])
        .or_else(|| query(&apxs, &["-q", "APU_INCLUDEDIR"]));
    let (Some(httpd), Some(apr)) = (httpd, apr) else {
        panic!("{MISSING}");
    };
    let mut dirs = vec![PathBuf::from(httpd), PathBuf::from(apr)];
    if let Some(apu) = apu {
        dirs.push(PathBuf::from(apu));
    }
    for dir in &dirs {
        if !dir.join("httpd.h").exists() && !dir.join("apr.h").exists() && !dir.is_dir() {
            panic!("{} does not exist.\n{MISSING}", dir.display());
        }
    }
    if !dirs[0].join("httpd.h").exists() {
        panic!("httpd.h is not in {}.\n{MISSING}", dirs[0].display());
    }
    dirs
}

fn main() {
    println!("cargo:rerun-if-changed=shim/shim.c");
    println!("cargo:rerun-if-changed=shim/shim.h");
    println!("cargo:rerun-if-changed=shim/wrapper.h");
    println!("cargo:rerun-if-env-changed=APXS");

    let dirs = include_dirs();

    let mut shim = cc::Build::new();
    shim.file("shim/shim.c").warnings_into_errors(true);
    for dir in &dirs {
        shim.include(dir);
    }
    // The shim lives in the module; its httpd and APR symbols resolve against
    // the running httpd when Apache loads the module.
    shim.compile("rustgi_shim");

    let mut builder = bindgen::Builder::default()
        .header("shim/wrapper.h")
        .clang_arg("-Ishim")
        .allowlist_function("ap_.*|apr_.*|rustgi_shim_.*|unixd_.*")
        .allowlist_type("request_rec|conn_rec|server_rec|module|command_rec|cmd_parms|ap_.*|apr_.*|process_rec|unixd_config_rec")
        .allowlist_var("ap_unixd_config|ap_server_conf|AP_.*|APR_.*|APLOG_.*|HTTP_.*|MODULE_MAGIC_.*|RSRC_CONF|ACCESS_CONF|OR_.*|OK|DECLINED|DONE|M_.*|NOT_IN_.*|GLOBAL_ONLY")
        // long double cannot be represented in Rust.
        .blocklist_function(".*(strtold|qecvt|qfcvt|qgcvt|ecvt_r|fcvt_r|qecvt_r|qfcvt_r).*")
        .derive_default(true)
        .layout_tests(false)
        .generate_comments(false)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()));
    for dir in &dirs {
        builder = builder.clang_arg(format!("-I{}", dir.display()));
    }
    let bindings = builder
        .generate()
        .unwrap_or_else(|e| panic!("bindgen failed on the httpd headers: {e}\n{MISSING}"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR is set by cargo"));
    bindings
        .write_to_file(out.join("bindings.rs"))
        .expect("writing bindings.rs");
}
