//! The process's status file, for the status page: what it is, what it has
//! served and whether it is stopping (and why). Rewritten every second by the
//! monitor, and once more when the process stops; atomically (write, then
//! rename), so readers never see half a file.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// One process's status, as the status page reads it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ProcessStatus {
    pub pid: u32,
    pub user: String,
    /// Seconds since the Unix epoch.
    pub started_unix: u64,
    pub threads: usize,
    pub requests: u64,
    pub in_flight: usize,
    pub rss_bytes: u64,
    /// `serving`, `recycling`, `stopping`, or [`FAILED`].
    pub state: &'static str,
    /// Why it is recycling or stopping.
    pub reason: Option<String>,
    /// What each app instance says about itself (its `status` entry).
    pub apps: Vec<AppStatus>,
    /// When a worker last finished with a connection (a request served or
    /// refused), seconds since the Unix epoch; the start until then. With
    /// every thread busy, how long the process has taken nothing new.
    pub last_done_unix: u64,
    /// Requests refused because they waited past queue-timeout.
    pub queue_timeouts: u64,
    /// When the last of them was refused, seconds since the Unix epoch.
    pub last_queue_timeout_unix: Option<u64>,
}

/// One app instance's own status, as the status page shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AppStatus {
    /// The app's file.
    pub file: String,
    /// The JSON object the app gave.
    pub status: serde_json::Value,
}

/// The state of a process that could not start (its apps did not load).
pub const FAILED: &str = "failed";

/// The file of process `pid` in `dir`.
pub fn path(dir: &Path, pid: u32) -> PathBuf {
    dir.join(format!("{pid}.json"))
}

/// Writes `status` into `dir`; failures are ignored (the page then shows the
/// process without figures), as the status page must never disturb serving.
pub fn write(dir: &Path, status: &ProcessStatus) {
    let Ok(text) = serde_json::to_vec(status) else {
        return;
    };
    let target = path(dir, status.pid);
    let temp = dir.join(format!(".{}.json.tmp", status.pid));
    if fs::write(&temp, text).is_ok() {
        let _ = fs::rename(&temp, &target);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_atomically_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let status = ProcessStatus {
            pid: 42,
            user: "shop".into(),
            started_unix: 1,
            threads: 4,
            requests: 7,
            in_flight: 1,
            rss_bytes: 4096,
            state: "recycling",
            reason: Some("7 requests served (maximum-requests)".into()),
            apps: vec![AppStatus {
                file: "/srv/a.so".into(),
                status: serde_json::json!({ "script": "/srv/wsgi.py" }),
            }],
            last_done_unix: 5,
            queue_timeouts: 2,
            last_queue_timeout_unix: Some(4),
        };
        write(dir.path(), &status);
        let text = fs::read_to_string(path(dir.path(), 42)).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["requests"], 7);
        assert_eq!(v["state"], "recycling");
        assert_eq!(v["reason"], "7 requests served (maximum-requests)");
        assert_eq!(v["apps"][0]["status"]["script"], "/srv/wsgi.py");
        assert_eq!(v["last_done_unix"], 5);
        assert_eq!(v["queue_timeouts"], 2);
        assert_eq!(v["last_queue_timeout_unix"], 4);
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("42.json")]);
    }
}
