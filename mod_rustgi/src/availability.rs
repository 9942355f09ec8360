//! Whether a daemon group can take requests, as an Apache child sees it:
//! not while the parent's group file says its processes fail to start and
//! none serves since. Then its requests get 503 at once instead of waiting
//! queue-timeout for a process that will not come, and do not hold Apache's
//! workers away from other sites.
//!
//! The files are read at most every [`RECHECK`] per group and child: a
//! healthy group costs a clock read per request.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::status;

/// How long a child trusts what it read.
pub const RECHECK: Duration = Duration::from_millis(250);

struct Known {
    group: String,
    read_at: Instant,
    unavailable: Option<String>,
}

static KNOWN: Mutex<Vec<Known>> = Mutex::new(Vec::new());

/// Why group `name` cannot take requests, if it cannot; from its group file
/// and its processes' status files in `status_dir`.
pub fn unavailable(name: &str, group_file: &Path, status_dir: &Path) -> Option<String> {
    let now = Instant::now();
    {
        let known = KNOWN.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(k) = known
            .iter()
            .find(|k| k.group == name && now.duration_since(k.read_at) < RECHECK)
        {
            return k.unavailable.clone();
        }
    }
    let unavailable = status::unavailable(&status::read_group(group_file, name), status_dir);
    let mut known = KNOWN.lock().unwrap_or_else(|e| e.into_inner());
    match known.iter_mut().find(|k| k.group == name) {
        Some(k) => {
            k.read_at = now;
            k.unavailable = unavailable.clone();
        }
        None => known.push(Known {
            group: name.to_owned(),
            read_at: now,
            unavailable: unavailable.clone(),
        }),
    }
    unavailable
}

/// The death of one of the group's processes that the parent recorded at
/// or after `since_unix`, waiting up to `wait` for the parent to record it:
/// the process that took a request and died before it answered (a process
/// names itself only in its first frame).
pub fn death_since(
    group_file: &Path,
    name: &str,
    since_unix: u64,
    wait: Duration,
) -> Option<status::Restart> {
    let deadline = Instant::now() + wait;
    loop {
        let group = status::read_group(group_file, name);
        if let Some(death) = group
            .restarts
            .into_iter()
            .rev()
            .find(|r| r.at >= since_unix)
        {
            return Some(death);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{Failing, GroupFile};

    #[test]
    fn a_recent_death_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("g.json");
        let mut group = GroupFile {
            name: "g".into(),
            ..GroupFile::default()
        };
        group.record_restart(status::Restart {
            at: 100,
            pid: 7,
            reason: "killed by signal 11 (SIGSEGV)".into(),
        });
        std::fs::write(&file, serde_json::to_string(&group).unwrap()).unwrap();
        let found = death_since(&file, "g", 100, Duration::ZERO).expect("the death");
        assert_eq!(found.pid, 7);
        assert!(death_since(&file, "g", 101, Duration::ZERO).is_none());
    }

    #[test]
    fn a_failing_group_is_read_and_remembered_for_a_moment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("g.json");
        assert_eq!(
            unavailable("g-test", &file, dir.path()),
            None,
            "no file: available"
        );
        let group = GroupFile {
            name: "g-test".into(),
            processes: vec![77],
            restarts: Vec::new(),
            failing: Some(Failing {
                since: 1,
                reason: "its init failed: boom".into(),
            }),
        };
        std::fs::write(&file, serde_json::to_string(&group).unwrap()).unwrap();
        // Still what was read a moment ago.
        assert_eq!(unavailable("g-test", &file, dir.path()), None);
        std::thread::sleep(RECHECK);
        assert_eq!(
            unavailable("g-test", &file, dir.path()).as_deref(),
            Some("its init failed: boom")
        );
    }
}
