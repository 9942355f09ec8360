//! The files a daemon group leaves in the socket directory (its socket, its
//! configuration, its group file and its processes' status files), and
//! removing those of groups that are no longer configured.
//!
//! Only names this module wrote into the directory's manifest are ever
//! removed: `RustgiSocketPrefix` may name a directory that holds other
//! files.

use std::fs;
use std::path::{Path, PathBuf};

use crate::daemon_spec::check_group_name;

/// The manifest: the groups whose files the directory holds, one a line.
pub const MANIFEST: &str = ".rustgi-groups";

/// The socket of group `name` in `dir`.
pub fn socket(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.sock"))
}

/// The daemon configuration file of group `name`.
pub fn config_file(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.json"))
}

/// The file the Apache parent writes about group `name`.
pub fn group_file(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.group.json"))
}

/// The directory of the status files of group `name`'s processes.
pub fn status_dir(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.status"))
}

/// Removes the files of the groups the manifest lists and `current` does
/// not, then records `current`; the names removed.
pub fn sweep(dir: &Path, current: &[&str]) -> Vec<String> {
    let manifest = dir.join(MANIFEST);
    let listed = fs::read_to_string(&manifest).unwrap_or_default();
    let mut removed = Vec::new();
    for name in listed.lines().map(str::trim) {
        if current.contains(&name) || check_group_name(name).is_err() {
            continue;
        }
        let _ = fs::remove_file(socket(dir, name));
        let _ = fs::remove_file(config_file(dir, name));
        let _ = fs::remove_file(group_file(dir, name));
        let _ = fs::remove_dir_all(status_dir(dir, name));
        removed.push(name.to_owned());
    }
    let mut text = current.join("\n");
    text.push('\n');
    let _ = fs::write(&manifest, text);
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_groups_that_are_gone_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for name in ["old", "kept"] {
            fs::write(socket(d, name), "").unwrap();
            fs::write(config_file(d, name), "{}").unwrap();
            fs::write(group_file(d, name), "{}").unwrap();
            fs::create_dir(status_dir(d, name)).unwrap();
            fs::write(status_dir(d, name).join("1.json"), "{}").unwrap();
        }
        fs::write(d.join("unrelated.json"), "{}").unwrap();
        // Nothing is listed yet: nothing goes.
        assert!(sweep(d, &["old", "kept"]).is_empty());
        assert!(socket(d, "old").exists());
        fs::write(d.join(MANIFEST), "old\nkept\n../escape\n").unwrap();
        assert_eq!(sweep(d, &["kept"]), vec!["old".to_owned()]);
        assert!(!socket(d, "old").exists() && !config_file(d, "old").exists());
        assert!(!group_file(d, "old").exists() && !status_dir(d, "old").exists());
        assert!(socket(d, "kept").exists() && status_dir(d, "kept").exists());
        assert!(d.join("unrelated.json").exists());
        assert_eq!(fs::read_to_string(d.join(MANIFEST)).unwrap(), "kept\n");
    }
}
