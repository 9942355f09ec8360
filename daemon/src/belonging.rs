//! Whether the process still belongs to its group: the Apache parent that
//! started it is alive, and the group's socket is still the one it listens
//! on. A daemon that lost either has no supervisor to stop or replace it
//! (after `kill -9` of Apache, or a restart that failed), so it stops.

use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;

use crate::sys;

/// What the process belonged to when it started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Belonging {
    parent: u32,
    socket: Option<(PathBuf, FileId)>,
}

/// A file's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    dev: u64,
    ino: u64,
}

fn file_id(path: &std::path::Path) -> Option<FileId> {
    std::fs::symlink_metadata(path).ok().map(|m| FileId {
        dev: m.dev(),
        ino: m.ino(),
    })
}

impl Belonging {
    /// The parent and the socket file now: call it first thing, before the
    /// parent could have gone.
    pub fn now(listener: &UnixListener) -> Belonging {
        let socket = listener
            .local_addr()
            .ok()
            .and_then(|a| a.as_pathname().map(PathBuf::from))
            .and_then(|path| file_id(&path).map(|id| (path, id)));
        Belonging {
            parent: sys::getppid(),
            socket,
        }
    }

    /// Why the process no longer belongs to its group, if it does not.
    pub fn lost(&self) -> Option<String> {
        let parent = sys::getppid();
        if parent != self.parent {
            return Some(format!(
                "Apache's parent process {} is gone (the process now belongs to {parent})",
                self.parent
            ));
        }
        let (path, id) = self.socket.as_ref()?;
        match file_id(path) {
            Some(now) if now != *id => Some(format!(
                "the group's socket {} is another one now: a newer generation serves the group",
                path.display()
            )),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replaced_socket_is_noticed_and_a_removed_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let belonging = Belonging::now(&listener);
        assert_eq!(belonging.lost(), None);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(belonging.lost(), None, "a missing socket is no newer one");
        let _newer = UnixListener::bind(&path).unwrap();
        let lost = belonging.lost().expect("the socket was replaced");
        assert!(lost.contains("is another one now"), "{lost}");
    }

    #[test]
    fn another_parent_is_noticed() {
        let dir = tempfile::tempdir().unwrap();
        let listener = UnixListener::bind(dir.path().join("g.sock")).unwrap();
        let mut belonging = Belonging::now(&listener);
        belonging.parent += 1;
        let lost = belonging.lost().expect("the parent differs");
        assert!(lost.contains("Apache's parent process"), "{lost}");
    }
}
