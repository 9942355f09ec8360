//! Whether a user can read a file, from the permission bits of the file and
//! of every directory above it: `apache2 -t` runs as root, and must tell
//! whether a group's user will be able to read its script.
//!
//! Pure over `stat` results; ACLs and capabilities are not considered, so a
//! file an ACL opens up is reported as unreadable (the error says why).

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// A user and its groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Who {
    pub name: String,
    pub uid: u32,
    pub gids: Vec<u32>,
}

const READ: u32 = 4;
const SEARCH: u32 = 1;

/// Whether `who` has `bit` (READ or SEARCH) on a file of `mode`, `uid`,
/// `gid`, as the kernel decides for a non-root user.
fn allowed(who: &Who, mode: u32, uid: u32, gid: u32, bit: u32) -> bool {
    if who.uid == 0 {
        return true;
    }
    let shift = if uid == who.uid {
        6
    } else if who.gids.contains(&gid) {
        3
    } else {
        0
    };
    (mode >> shift) & bit != 0
}

/// Ok when `who` can enter the directory `dir` (and every one above it);
/// otherwise what stops it.
pub fn enterable_by(dir: &Path, who: &Who) -> Result<(), String> {
    let meta = std::fs::metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !meta.is_dir() {
        return Err(format!("{} is not a directory", dir.display()));
    }
    let mut dirs: Vec<&Path> = dir.ancestors().collect();
    dirs.reverse();
    for dir in dirs {
        let meta = std::fs::metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        if !allowed(who, meta.mode(), meta.uid(), meta.gid(), SEARCH) {
            return Err(denied(who, dir, "enter the directory", &meta));
        }
    }
    Ok(())
}

fn denied(who: &Who, path: &Path, what: &str, meta: &std::fs::Metadata) -> String {
    format!(
        "user {} cannot {what} {} (mode {:04o}, owner uid {}, group gid {})",
        who.name,
        path.display(),
        meta.mode() & 0o7777,
        meta.uid(),
        meta.gid()
    )
}

/// Ok when `who` can reach and read `file`; otherwise what stops it.
pub fn readable_by(file: &Path, who: &Who) -> Result<(), String> {
    if let Some(dir) = file.parent() {
        enterable_by(dir, who)?;
    }
    let meta = std::fs::metadata(file).map_err(|e| format!("{}: {e}", file.display()))?;
    if !allowed(who, meta.mode(), meta.uid(), meta.gid(), READ) {
        return Err(denied(who, file, "read", &meta));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn who(uid: u32, gids: &[u32]) -> Who {
        Who {
            name: format!("u{uid}"),
            uid,
            gids: gids.to_vec(),
        }
    }

    #[test]
    fn owner_group_and_others_bits() {
        let w = who(1000, &[100, 200]);
        assert!(allowed(&w, 0o400, 1000, 0, READ));
        assert!(
            !allowed(&w, 0o040, 1000, 100, READ),
            "owner bits decide for the owner"
        );
        assert!(allowed(&w, 0o040, 0, 200, READ));
        assert!(
            !allowed(&w, 0o004, 0, 200, READ),
            "group bits decide for a member"
        );
        assert!(allowed(&w, 0o004, 0, 0, READ));
        assert!(allowed(&w, 0o001, 0, 0, SEARCH));
        assert!(!allowed(&w, 0o006, 0, 0, SEARCH));
        assert!(allowed(&who(0, &[0]), 0, 5, 5, READ), "root reads anything");
    }

    #[test]
    fn directories_on_the_way_count() {
        let dir = tempfile::tempdir().unwrap();
        let inner = dir.path().join("inner");
        std::fs::create_dir(&inner).unwrap();
        let file = inner.join("wsgi.py");
        std::fs::write(&file, "x").unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let stranger = who(54321, &[54321]);
        std::fs::set_permissions(&inner, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(readable_by(&file, &stranger), Ok(()));

        std::fs::set_permissions(&inner, std::fs::Permissions::from_mode(0o700)).unwrap();
        let e = readable_by(&file, &stranger).unwrap_err();
        assert!(
            e.contains("cannot enter the directory") && e.contains("inner"),
            "{e}"
        );

        std::fs::set_permissions(&inner, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let e = readable_by(&file, &stranger).unwrap_err();
        assert!(
            e.contains("u54321 cannot read") && e.contains("mode 0600"),
            "{e}"
        );

        let e = readable_by(&inner.join("missing.py"), &stranger).unwrap_err();
        assert!(e.contains("missing.py"), "{e}");

        assert_eq!(enterable_by(&inner, &stranger), Ok(()));
        std::fs::set_permissions(&inner, std::fs::Permissions::from_mode(0o700)).unwrap();
        let e = enterable_by(&inner, &stranger).unwrap_err();
        assert!(e.contains("cannot enter the directory"), "{e}");
        let e = enterable_by(&file, &stranger).unwrap_err();
        assert!(e.contains("is not a directory"), "{e}");
    }
}
