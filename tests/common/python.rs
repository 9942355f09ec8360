//! The Python side of the end-to-end tests: the test apps' files, and a
//! virtual environment made with Debian's `/usr/bin/python3` (the Python
//! the bridge embeds) holding real frameworks installed from PyPI.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// What the test venv holds, pinned so runs are comparable.
pub const PACKAGES: &[&str] = &["flask==3.1.3", "poorwsgi==2.8.1", "wsgi-15watt==0.9.17"];

/// `tests/python`, where the test apps live.
pub fn apps_source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python")
}

fn run(program: &Path, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .env_remove("PYTHONHOME")
        .env_remove("PYTHONPATH")
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", program.display()));
    assert!(
        out.status.success(),
        "{} {args:?} failed ({}):\n{}\n{}",
        program.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The test venv, made (once, then reused while [`PACKAGES`] stay the same)
/// with `/usr/bin/python3 -m venv` and pip. It lives in the temporary
/// directory, which every user can traverse (the daemons' users read it).
pub fn venv() -> &'static Path {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        let base = std::env::temp_dir();
        let dir = base.join("rustgi-test-venv");
        let stamp = dir.join(".rustgi-packages");
        let wanted = PACKAGES.join("\n");
        if fs::read_to_string(&stamp).is_ok_and(|s| s == wanted) {
            return dir;
        }
        let building = base.join(format!("rustgi-test-venv.tmp-{}", std::process::id()));
        let _ = fs::remove_dir_all(&building);
        let building_str = building.to_str().expect("UTF-8 target path");
        run(Path::new("/usr/bin/python3"), &["-m", "venv", building_str]);
        let mut args = vec![
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ];
        args.extend(PACKAGES);
        run(&building.join("bin/python3"), &args);
        fs::write(building.join(".rustgi-packages"), &wanted).expect("write the venv's stamp");
        let _ = fs::remove_dir_all(&dir);
        fs::rename(&building, &dir).expect("move the venv in place");
        dir
    })
}

/// Copies the test app directory `name` (under `tests/python`) to `dest`,
/// readable by everyone.
pub fn copy_app(name: &str, dest: &Path) {
    copy_tree(&apps_source().join(name), dest);
}

fn copy_tree(src: &Path, dest: &Path) {
    fs::create_dir_all(dest).expect("create app directory");
    super::make_traversable(dest);
    for entry in fs::read_dir(src).expect("read app directory") {
        let entry = entry.expect("directory entry");
        let path = entry.path();
        let target = dest.join(entry.file_name());
        if path.is_dir() {
            if entry.file_name() != "__pycache__" {
                copy_tree(&path, &target);
            }
        } else {
            super::copy_readable(&path, &target);
        }
    }
}
