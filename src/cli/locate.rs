//! Where the pieces are: the module this command belongs to, the daemon
//! executable beside it, the app SDK and cargo.
//!
//! The module is looked for, in order:
//!
//! 1. beside this command as `libmod_rustgi.so` (a build tree:
//!    `target/release/rustgi` and `target/release/libmod_rustgi.so`) or as
//!    `mod_rustgi.so`;
//! 2. in `../lib/apache2/modules/` relative to the command's directory (an
//!    installed package: `/usr/bin/rustgi` and
//!    `/usr/lib/apache2/modules/mod_rustgi.so`, also inside an unpacked
//!    package tree);
//! 3. in Apache's module directory (`apxs -q LIBEXECDIR`), as
//!    `mod_rustgi.so`.

use std::env;
use std::path::{Path, PathBuf};

use crate::httpd_conf::modules_dir;

/// The module's file name in a build tree.
pub const BUILD_MODULE: &str = "libmod_rustgi.so";
/// The module's file name where Apache keeps modules.
pub const INSTALLED_MODULE: &str = "mod_rustgi.so";
/// The daemon executable, which lives beside the module.
pub const DAEMON: &str = "rustgi-daemon";
/// Where packages install the app SDK's sources, relative to the prefix.
pub const SHARED_APP_SDK: &str = "share/rustgi/app-sdk";

/// The directory of the running `rustgi` executable.
pub fn exe_dir() -> Result<PathBuf, String> {
    let exe = env::current_exe().map_err(|e| format!("cannot find this command: {e}"))?;
    exe.parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| format!("{} has no directory", exe.display()))
}

/// The places [`find_module`] looks, in order, for a command in `exe_dir`.
pub fn module_candidates(exe_dir: &Path) -> Vec<PathBuf> {
    vec![
        exe_dir.join(BUILD_MODULE),
        exe_dir.join(INSTALLED_MODULE),
        exe_dir
            .join("../lib/apache2/modules")
            .join(INSTALLED_MODULE),
        modules_dir().join(INSTALLED_MODULE),
    ]
}

/// The module to use: `explicit` when given (it must exist), else the first
/// of [`module_candidates`] that exists. The path is made absolute and
/// free of `..`.
pub fn find_module(explicit: Option<&Path>) -> Result<PathBuf, String> {
    if let Some(path) = explicit {
        return path
            .canonicalize()
            .map_err(|e| format!("the module {}: {e}", path.display()));
    }
    let dir = exe_dir()?;
    let candidates = module_candidates(&dir);
    candidates
        .iter()
        .find(|p| p.is_file())
        .and_then(|p| p.canonicalize().ok())
        .ok_or_else(|| {
            let list: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
            format!(
                "cannot find mod_rustgi (looked at {}); build it with \
                 `cargo build --release --workspace`, install it, or pass --module",
                list.join(", ")
            )
        })
}

/// The daemon executable beside `module`, if it is there.
pub fn daemon_beside(module: &Path) -> Option<PathBuf> {
    let path = module.with_file_name(DAEMON);
    path.is_file().then_some(path)
}

/// The app SDK's directory in the source tree this command was built from,
/// if that tree is still there.
pub fn source_tree_app_sdk() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("app-sdk");
    dir.join("Cargo.toml").is_file().then_some(dir)
}

/// The app SDK that `rustgi new` makes the crate depend on: `explicit`,
/// else `$RUSTGI_APP_SDK`, else the source tree this command was built
/// from, else the sources a package installed in `PREFIX/share/rustgi/app-sdk`
/// (PREFIX being the parent of the command's directory).
pub fn find_app_sdk(explicit: Option<&Path>) -> Result<PathBuf, String> {
    let check = |dir: &Path, what: &str| -> Result<PathBuf, String> {
        if dir.join("Cargo.toml").is_file() {
            dir.canonicalize()
                .map_err(|e| format!("{what} {}: {e}", dir.display()))
        } else {
            Err(format!(
                "{what} {} is not the app-sdk crate (no Cargo.toml)",
                dir.display()
            ))
        }
    };
    if let Some(dir) = explicit {
        return check(dir, "--app-sdk");
    }
    if let Some(dir) = env::var_os("RUSTGI_APP_SDK").filter(|v| !v.is_empty()) {
        return check(Path::new(&dir), "$RUSTGI_APP_SDK");
    }
    if let Some(dir) = source_tree_app_sdk() {
        return check(&dir, "the source tree's app-sdk");
    }
    let shared = exe_dir()?.join("..").join(SHARED_APP_SDK);
    if shared.join("Cargo.toml").is_file() {
        return check(&shared, "the installed app-sdk");
    }
    Err(format!(
        "cannot find the app-sdk crate (not in the source tree {}, nor in {}); \
         pass --app-sdk DIR or set RUSTGI_APP_SDK",
        env!("CARGO_MANIFEST_DIR"),
        shared.display()
    ))
}

/// The cargo to run: `$CARGO` (set when run by cargo) or `cargo`.
pub fn cargo() -> PathBuf {
    env::var_os("CARGO")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("cargo"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_in_order() {
        let c = module_candidates(Path::new("/opt/x/bin"));
        assert_eq!(c[0], Path::new("/opt/x/bin/libmod_rustgi.so"));
        assert_eq!(c[1], Path::new("/opt/x/bin/mod_rustgi.so"));
        assert_eq!(
            c[2],
            Path::new("/opt/x/bin/../lib/apache2/modules/mod_rustgi.so")
        );
        assert!(c[3].ends_with("mod_rustgi.so"));
    }

    #[test]
    fn explicit_module_must_exist() {
        let err = find_module(Some(Path::new("/nonexistent/m.so"))).unwrap_err();
        assert!(err.contains("/nonexistent/m.so"), "{err}");
    }

    #[test]
    fn app_sdk_of_this_tree() {
        let dir = find_app_sdk(None).unwrap();
        assert!(dir.join("src/lib.rs").is_file(), "{}", dir.display());
        assert!(find_app_sdk(Some(Path::new("/nonexistent"))).is_err());
    }
}
