//! The Debian package that `scripts/package` builds with cargo-deb holds the
//! module, rustgi-daemon beside it, the a2enmod files, the rustgi command,
//! rustgi.h, the app SDK's sources and the docs; and its rustgi finds the
//! module it was packaged with.
//!
//! Skipped, saying so, when cargo-deb is not installed
//! (`cargo install cargo-deb --locked`).

use crate::cli_common;
use crate::common;

use std::path::Path;
use std::process::Command;

use cli_common::output_text;
use common::temp_dir;

const PACKAGE: &str = "libapache2-mod-rustgi";

fn dpkg_deb(args: &[&str], deb: &Path) -> String {
    let out = Command::new("dpkg-deb")
        .args(args)
        .arg(deb)
        .output()
        .expect("run dpkg-deb");
    assert!(out.status.success(), "{}", output_text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn debian_package_holds_everything_and_works_unpacked() {
    let have_cargo_deb = Command::new(env!("CARGO"))
        .args(["deb", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have_cargo_deb {
        eprintln!(
            "SKIPPED debian_package_holds_everything_and_works_unpacked: cargo-deb is missing \
             (cargo install cargo-deb --locked)"
        );
        return;
    }
    if !cli_common::have("dpkg-deb") {
        eprintln!("SKIPPED debian_package_holds_everything_and_works_unpacked: no dpkg-deb");
        return;
    }
    // The binaries come from target/release, as the other tests use them.
    common::Artifact::Module.path();
    common::daemon::require_daemon();

    let out_dir = temp_dir("rustgi-cli-deb-");
    let out = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/package"))
        .args(["--no-build", "--fast", "--output"])
        .arg(out_dir.path())
        .output()
        .expect("run scripts/package");
    assert!(out.status.success(), "{}", output_text(&out));
    let deb = std::fs::read_dir(out_dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .expect("a .deb");
    assert!(
        deb.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(&format!("{PACKAGE}_")),
        "{}",
        deb.display()
    );

    // Contents: path → mode.
    let listing = dpkg_deb(&["-c"], &deb);
    let files: Vec<(String, String)> = listing
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let mode = f.next()?.to_owned();
            let path = f.last()?.trim_start_matches('.').to_owned();
            Some((path, mode))
        })
        .collect();
    let mode_of = |path: &str| {
        files
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, m)| m.as_str())
            .unwrap_or_else(|| panic!("{path} is not in the package:\n{listing}"))
    };
    for (path, mode) in [
        ("/usr/lib/apache2/modules/mod_rustgi.so", "-rw-r--r--"),
        ("/usr/lib/apache2/modules/rustgi-daemon", "-rwxr-xr-x"),
        ("/usr/bin/rustgi", "-rwxr-xr-x"),
        ("/etc/apache2/mods-available/rustgi.load", "-rw-r--r--"),
        ("/etc/apache2/mods-available/rustgi.conf", "-rw-r--r--"),
        ("/usr/include/rustgi.h", "-rw-r--r--"),
        ("/usr/share/rustgi/app-sdk/Cargo.toml", "-rw-r--r--"),
        ("/usr/share/rustgi/app-sdk/src/lib.rs", "-rw-r--r--"),
        ("/usr/share/rustgi/rustgi-abi/Cargo.toml", "-rw-r--r--"),
        (
            "/usr/share/rustgi/rustgi-abi/include/rustgi.h",
            "-rw-r--r--",
        ),
        ("/usr/lib/apache2/modules/rustgi-python.so", "-rw-r--r--"),
        (
            "/usr/share/doc/libapache2-mod-rustgi/README.md",
            "-rw-r--r--",
        ),
        (
            "/usr/share/doc/libapache2-mod-rustgi/deployment.md",
            "-rw-r--r--",
        ),
        (
            "/usr/share/doc/libapache2-mod-rustgi/migrating-from-mod_wsgi.md",
            "-rw-r--r--",
        ),
        ("/usr/share/doc/libapache2-mod-rustgi/abi.md", "-rw-r--r--"),
    ] {
        assert_eq!(mode_of(path), mode, "{path}");
    }

    // Control: the name, what it depends on, the a2enmod scripts, the
    // configuration files that dpkg keeps.
    let field = |name: &str| {
        dpkg_deb(&["-f"], &deb)
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")).map(str::to_owned))
    };
    assert_eq!(field("Package").as_deref(), Some(PACKAGE));
    let depends = field("Depends").unwrap_or_default();
    assert!(depends.contains("apache2 (>= 2.4)"), "{depends}");
    assert!(depends.contains("apache2-api-20120211"), "{depends}");
    let control = temp_dir("rustgi-cli-deb-control-");
    let out = Command::new("dpkg-deb")
        .arg("-e")
        .arg(&deb)
        .arg(control.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let conffiles = std::fs::read_to_string(control.path().join("conffiles")).unwrap();
    assert!(conffiles.contains("/etc/apache2/mods-available/rustgi.load"));
    assert!(conffiles.contains("/etc/apache2/mods-available/rustgi.conf"));
    let postinst = std::fs::read_to_string(control.path().join("postinst")).unwrap();
    assert!(
        postinst.contains("apache2_invoke enmod rustgi"),
        "{postinst}"
    );
    let prerm = std::fs::read_to_string(control.path().join("prerm")).unwrap();
    assert!(prerm.contains("apache2_invoke dismod rustgi"), "{prerm}");

    // Unpacked, its rustgi finds the module packaged beside it
    // (usr/bin/../lib/apache2/modules), and rustgi.load points at the
    // installed path; the SDK's manifest stands alone.
    let tree = temp_dir("rustgi-cli-deb-tree-");
    let out = Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(tree.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let out = Command::new(tree.path().join("usr/bin/rustgi"))
        .arg("module-config")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", output_text(&out));
    let module = tree
        .path()
        .join("usr/lib/apache2/modules/mod_rustgi.so")
        .canonicalize()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("LoadModule rustgi_module \"{}\"\n", module.display())
    );
    let load = std::fs::read_to_string(tree.path().join("etc/apache2/mods-available/rustgi.load"))
        .unwrap();
    assert!(load.contains("LoadModule rustgi_module /usr/lib/apache2/modules/mod_rustgi.so"));
    let sdk =
        std::fs::read_to_string(tree.path().join("usr/share/rustgi/app-sdk/Cargo.toml")).unwrap();
    assert!(sdk.contains("name = \"app-sdk\""), "{sdk}");
    assert!(!sdk.contains("workspace = true"), "{sdk}");
}
