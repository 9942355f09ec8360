//! The Python side of the end-to-end tests: the test apps' files, and a
//! virtual environment made with Debian's `/usr/bin/python3` (the Python
//! the bridge embeds) holding real frameworks installed from PyPI.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// What the test venv holds, pinned so runs are comparable.
pub const PACKAGES: &[&str] = &["flask==3.1.3", "poorwsgi==2.8.1", "wsgi-15watt==0.9.17"];

/// `tests/python`, where the test apps live.
pub fn apps_source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python")
}

/// The test venv, made (once, then reused while [`PACKAGES`] stay the same)
/// with `/usr/bin/python3 -m venv` and pip. It lives in the temporary
/// directory, which every user can traverse (the daemons' users read it).
pub fn venv() -> &'static Path {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        rustgi::python_venv::venv("rustgi-test-venv", PACKAGES).unwrap_or_else(|e| panic!("{e}"))
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
