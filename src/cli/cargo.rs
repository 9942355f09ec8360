//! Building an app crate: `cargo build --release --lib` in it, and finding
//! the shared library (the `cdylib`) it made from cargo's JSON messages,
//! wherever the target directory is (`CARGO_TARGET_DIR`, a workspace's).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::SystemTime;

use super::locate::cargo;

/// Whether `path` is a crate's directory (it holds a `Cargo.toml`).
pub fn is_crate_dir(path: &Path) -> bool {
    path.is_dir() && path.join("Cargo.toml").is_file()
}

/// The `Cargo.toml` of the crate in `dir`, absolute.
pub fn manifest_of(dir: &Path) -> Result<PathBuf, String> {
    let dir = dir
        .canonicalize()
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir.join("Cargo.toml"))
}

/// `cargo build --release --lib --manifest-path MANIFEST`, with JSON
/// messages on stdout and the compiler's diagnostics rendered on stderr.
pub fn build_command(manifest: &Path) -> Command {
    let mut cmd = Command::new(cargo());
    cmd.args([
        "build",
        "--release",
        "--lib",
        "--message-format=json-render-diagnostics",
        "--manifest-path",
    ])
    .arg(manifest)
    .stdin(Stdio::null())
    .stdout(Stdio::piped());
    cmd
}

/// The cdylib of the package at `manifest` among cargo's JSON messages
/// (one object a line), if it built one.
pub fn cdylib_in_messages(messages: &str, manifest: &Path) -> Option<PathBuf> {
    let same = |p: &str| {
        let p = Path::new(p);
        p == manifest || p.canonicalize().ok().as_deref() == Some(manifest)
    };
    let mut found = None;
    for line in messages.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if v["reason"] != "compiler-artifact" || !v["manifest_path"].as_str().is_some_and(same) {
            continue;
        }
        let is_cdylib = v["target"]["crate_types"]
            .as_array()
            .is_some_and(|types| types.iter().any(|t| t == "cdylib"));
        if !is_cdylib {
            continue;
        }
        if let Some(files) = v["filenames"].as_array() {
            found = files
                .iter()
                .filter_map(|f| f.as_str())
                .find(|f| f.ends_with(".so"))
                .map(PathBuf::from)
                .or(found);
        }
    }
    found
}

/// Builds the crate in `dir` (cargo's progress and errors go to stderr)
/// and returns the path of its shared library.
pub fn build(dir: &Path) -> Result<PathBuf, String> {
    let manifest = manifest_of(dir)?;
    eprintln!("rustgi: building {}", dir.display());
    let out = build_command(&manifest)
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", cargo().display()))?;
    finish_build(dir, &manifest, out.status.success(), &out.stdout)
}

/// What a finished build gave: the cdylib, or why not.
pub fn finish_build(
    dir: &Path,
    manifest: &Path,
    success: bool,
    stdout: &[u8],
) -> Result<PathBuf, String> {
    if !success {
        return Err(format!("cargo build failed in {}", dir.display()));
    }
    cdylib_in_messages(&String::from_utf8_lossy(stdout), manifest).ok_or_else(|| {
        format!(
            "{} builds no shared library: its Cargo.toml needs [lib] crate-type = [\"cdylib\"]",
            dir.display()
        )
    })
}

/// A summary of the crate's sources: every file under `dir` but `target/`
/// and hidden entries, with its size and modification time. Two equal
/// fingerprints mean nothing was edited in between.
pub fn source_fingerprint(dir: &Path) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    fn walk(dir: &Path, depth: usize, out: &mut Vec<(PathBuf, u64, Option<SystemTime>)>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || (depth == 0 && name == "target") {
                continue;
            }
            let path = entry.path();
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            if meta.is_dir() {
                if depth < 16 {
                    walk(&path, depth + 1, out);
                }
            } else {
                out.push((path, meta.len(), meta.modified().ok()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, 0, &mut out);
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_cdylib_of_the_package() {
        let messages = r#"{"reason":"compiler-artifact","manifest_path":"/w/dep/Cargo.toml","target":{"crate_types":["cdylib"]},"filenames":["/t/release/libdep.so"]}
not json
{"reason":"compiler-artifact","manifest_path":"/w/app/Cargo.toml","target":{"crate_types":["lib"]},"filenames":["/t/release/libapp.rlib"]}
{"reason":"compiler-artifact","manifest_path":"/w/app/Cargo.toml","target":{"crate_types":["rlib","cdylib"]},"filenames":["/t/release/libapp.rlib","/t/release/libapp.so"]}
{"reason":"build-finished","success":true}"#;
        assert_eq!(
            cdylib_in_messages(messages, Path::new("/w/app/Cargo.toml")),
            Some(PathBuf::from("/t/release/libapp.so"))
        );
        assert_eq!(
            cdylib_in_messages(messages, Path::new("/w/other/Cargo.toml")),
            None
        );
        let err =
            finish_build(Path::new("/w/x"), Path::new("/w/x/Cargo.toml"), true, b"").unwrap_err();
        assert!(err.contains("cdylib"), "{err}");
        let err =
            finish_build(Path::new("/w/x"), Path::new("/w/x/Cargo.toml"), false, b"").unwrap_err();
        assert!(err.contains("cargo build failed"), "{err}");
    }

    #[test]
    fn fingerprint_sees_edits_but_not_target() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("src")).unwrap();
        fs::create_dir_all(dir.path().join("target/release")).unwrap();
        fs::write(dir.path().join("src/lib.rs"), "a").unwrap();
        let before = source_fingerprint(dir.path());
        assert_eq!(before.len(), 1);
        fs::write(dir.path().join("target/release/x"), "b").unwrap();
        fs::write(dir.path().join(".hidden"), "b").unwrap();
        assert_eq!(source_fingerprint(dir.path()), before);
        fs::write(dir.path().join("src/lib.rs"), "ab").unwrap();
        assert_ne!(source_fingerprint(dir.path()), before);
    }

    #[test]
    fn crate_dirs() {
        assert!(is_crate_dir(Path::new(env!("CARGO_MANIFEST_DIR"))));
        assert!(!is_crate_dir(Path::new("/")));
    }
}
