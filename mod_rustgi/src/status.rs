//! The status page (`SetHandler rustgi-status`): for each daemon group its
//! processes, queue and restarts, as HTML for people and JSON for machines.
//!
//! Pure code: the data comes from files — each daemon process rewrites its
//! own every second, the Apache parent keeps one per group with the process
//! list and the restarts — so that reading the page costs no daemon anything.

use std::fmt::Write as _;
use std::fs;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// What a daemon process writes about itself (`rustgi-daemon`'s status file).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct ProcessFile {
    pub pid: u32,
    pub user: String,
    pub started_unix: u64,
    pub threads: u64,
    pub requests: u64,
    pub in_flight: u64,
    pub rss_bytes: u64,
    pub state: String,
    pub reason: Option<String>,
    /// What each of its app instances says about itself.
    #[serde(default)]
    pub apps: Vec<AppView>,
    /// When a worker last finished with a connection (Unix seconds).
    #[serde(default)]
    pub last_done_unix: u64,
    /// Requests refused for waiting past queue-timeout, and the last time.
    #[serde(default)]
    pub queue_timeouts: u64,
    #[serde(default)]
    pub last_queue_timeout_unix: Option<u64>,
}

/// One app instance of a process, in its own words (its `status` entry):
/// for a WSGI script, the Python version, the script and its last import
/// failure.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AppView {
    pub file: String,
    pub status: serde_json::Value,
}

/// A process ending, and why.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Restart {
    /// Seconds since the Unix epoch.
    pub at: u64,
    pub pid: u32,
    pub reason: String,
}

/// What the Apache parent writes about a group.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct GroupFile {
    pub name: String,
    pub processes: Vec<u32>,
    pub restarts: Vec<Restart>,
    /// Set when a process failed to start (its apps could not be loaded):
    /// until a process serves again, the group's requests get 503 at once.
    #[serde(default)]
    pub failing: Option<Failing>,
}

/// A group whose processes cannot start.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Failing {
    /// When the first of the failures in a row was, seconds since the epoch.
    pub since: u64,
    /// The last failure, in the process's own words.
    pub reason: String,
}

/// The state a process's status file says it failed to start in.
pub const FAILED_STATE: &str = rustgi_contract::status_file::FAILED;

/// The group file at `path`, or an empty one named `name`.
pub fn read_group(path: &Path, name: &str) -> GroupFile {
    read_file(path)
        .and_then(|text| serde_json::from_str::<GroupFile>(&text).ok())
        .unwrap_or_else(|| GroupFile {
            name: name.to_owned(),
            ..GroupFile::default()
        })
}

/// Why the group cannot take requests now, if it cannot: its processes
/// failed to start, and none of its processes is serving since.
pub fn unavailable(group: &GroupFile, process_dir: &Path) -> Option<String> {
    let failing = group.failing.as_ref()?;
    let serving = group.processes.iter().any(|&pid| {
        read_process(process_dir, pid)
            .is_some_and(|p| p.state != FAILED_STATE && p.started_unix >= failing.since)
    });
    (!serving).then(|| failing.reason.clone())
}

/// How many restarts a group file keeps, newest last.
pub const RESTARTS_KEPT: usize = 50;

impl GroupFile {
    pub fn record_restart(&mut self, restart: Restart) {
        self.restarts.push(restart);
        if self.restarts.len() > RESTARTS_KEPT {
            let excess = self.restarts.len() - RESTARTS_KEPT;
            self.restarts.drain(..excess);
        }
    }
}

/// One process as the page shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ProcessView {
    pub pid: u32,
    pub user: String,
    pub uptime_s: u64,
    pub requests: u64,
    pub in_flight: u64,
    pub rss_bytes: u64,
    pub state: String,
    pub reason: Option<String>,
    pub apps: Vec<AppView>,
}

/// One group as the page shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct GroupView {
    pub name: String,
    pub processes: Vec<ProcessView>,
    /// Connections waiting in the group's socket backlog, when known.
    pub queue: Option<u32>,
    pub restarts: Vec<Restart>,
    /// Why the group cannot start its processes, while it cannot.
    pub failing: Option<String>,
}

/// Reads a small file without following a symbolic link: status files live
/// in directories their daemon's user may write to.
pub fn read_file(path: &Path) -> Option<String> {
    let mut file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .ok()?;
    let mut text = String::new();
    file.by_ref().take(1 << 20).read_to_string(&mut text).ok()?;
    Some(text)
}

/// A process's status file, when it has a readable one.
pub fn read_process(dir: &Path, pid: u32) -> Option<ProcessFile> {
    serde_json::from_str(&read_file(&dir.join(format!("{pid}.json")))?).ok()
}

/// The view of a group from its group file and its processes' files.
pub fn group_view(
    group: &GroupFile,
    process_dir: &Path,
    queue: Option<u32>,
    now_unix: u64,
) -> GroupView {
    let processes = group
        .processes
        .iter()
        .map(|&pid| match read_process(process_dir, pid) {
            Some(p) => ProcessView {
                pid,
                user: p.user,
                uptime_s: now_unix.saturating_sub(p.started_unix),
                requests: p.requests,
                in_flight: p.in_flight,
                rss_bytes: p.rss_bytes,
                state: p.state,
                reason: p.reason,
                apps: p.apps,
            },
            None => ProcessView {
                pid,
                user: String::new(),
                uptime_s: 0,
                requests: 0,
                in_flight: 0,
                rss_bytes: 0,
                state: "starting".to_owned(),
                reason: None,
                apps: Vec::new(),
            },
        })
        .collect();
    GroupView {
        name: group.name.clone(),
        processes,
        queue,
        restarts: group.restarts.clone(),
        failing: unavailable(group, process_dir),
    }
}

/// An app's status object in words: each field `name: value`, an import
/// failure with how long ago it was.
pub fn describe_app(status: &serde_json::Value, now_unix: u64) -> String {
    let Some(fields) = status.as_object() else {
        return status.to_string();
    };
    fields
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(name, value)| match (name.as_str(), value) {
            ("import_error", serde_json::Value::Object(e)) => {
                let ago = e
                    .get("at")
                    .and_then(serde_json::Value::as_u64)
                    .map_or_else(String::new, |at| {
                        format!(" {} ago", duration(now_unix.saturating_sub(at)))
                    });
                let cause = e.get("cause").and_then(|c| c.as_str()).unwrap_or("?");
                format!("import failed{ago}: {cause}")
            }
            (_, serde_json::Value::String(s)) => format!("{name}: {s}"),
            (_, other) => format!("{name}: {other}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why a process ended: its own words when it was recycling or stopping,
/// else how it died.
pub fn restart_reason(file: Option<&ProcessFile>, death: &str) -> String {
    match file.and_then(|f| f.reason.as_deref().map(|r| (f.state.as_str(), r))) {
        Some((state, reason)) => format!("{state}: {reason}; {death}"),
        None => death.to_owned(),
    }
}

/// The page as JSON: `{"groups": [...]}`.
pub fn to_json(groups: &[GroupView]) -> String {
    serde_json::json!({ "groups": groups }).to_string()
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn duration(seconds: u64) -> String {
    match seconds {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min {} s", s / 60, s % 60),
        s if s < 86400 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        s => format!("{} d {} h", s / 86400, (s % 86400) / 3600),
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

/// The page as HTML.
pub fn to_html(groups: &[GroupView], server: &str, now_unix: u64) -> String {
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>mod_rustgi status</title>\n\
         <style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin-bottom:1.5em}}\
         th,td{{border:1px solid #bbb;padding:.3em .7em;text-align:right}}th{{background:#eee}}\
         td.l,th.l{{text-align:left}}h2{{margin-bottom:.3em}}.muted{{color:#666}}</style></head>\n\
         <body><h1>mod_rustgi status</h1><p class=\"muted\">{}</p>\n",
        escape(server)
    );
    if groups.is_empty() {
        html.push_str("<p>No daemon process groups are configured.</p>\n");
    }
    for group in groups {
        let queue = group
            .queue
            .map_or_else(|| "unknown".to_owned(), |q| q.to_string());
        let _ = write!(
            html,
            "<h2>Group {}</h2><p>{} process(es), queue: {}</p>\n<table><tr><th>pid</th><th class=\"l\">user</th>\
             <th>uptime</th><th>requests</th><th>in flight</th><th>RSS</th><th class=\"l\">state</th></tr>\n",
            escape(&group.name),
            group.processes.len(),
            queue
        );
        if let Some(reason) = &group.failing {
            let _ = writeln!(
                html,
                "<p class=\"failing\">Cannot start: {} (requests get 503 until a process serves)</p>",
                escape(reason)
            );
        }
        for p in &group.processes {
            let state = match &p.reason {
                Some(reason) => format!("{} ({})", p.state, reason),
                None => p.state.clone(),
            };
            let _ = writeln!(
                html,
                "<tr><td>{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"l\">{}</td></tr>",
                p.pid,
                escape(&p.user),
                duration(p.uptime_s),
                p.requests,
                p.in_flight,
                mib(p.rss_bytes),
                escape(&state)
            );
        }
        html.push_str("</table>\n");
        let apps: Vec<(u32, &AppView)> = group
            .processes
            .iter()
            .flat_map(|p| p.apps.iter().map(move |a| (p.pid, a)))
            .collect();
        if !apps.is_empty() {
            html.push_str("<table><tr><th>pid</th><th class=\"l\">app</th><th class=\"l\">details</th></tr>\n");
            for (pid, app) in apps {
                let _ = writeln!(
                    html,
                    "<tr><td>{pid}</td><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
                    escape(&app.file),
                    escape(&describe_app(&app.status, now_unix))
                );
            }
            html.push_str("</table>\n");
        }
        if group.restarts.is_empty() {
            html.push_str("<p class=\"muted\">No restarts.</p>\n");
        } else {
            html.push_str("<table><tr><th>ago</th><th>pid</th><th class=\"l\">reason</th></tr>\n");
            for r in group.restarts.iter().rev() {
                let _ = writeln!(
                    html,
                    "<tr><td>{}</td><td>{}</td><td class=\"l\">{}</td></tr>",
                    duration(now_unix.saturating_sub(r.at)),
                    r.pid,
                    escape(&r.reason)
                );
            }
            html.push_str("</table>\n");
        }
    }
    html.push_str("</body></html>\n");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process_json(pid: u32, state: &str, reason: Option<&str>) -> String {
        serde_json::json!({
            "pid": pid, "user": "shop", "started_unix": 1000, "threads": 4,
            "requests": 12, "in_flight": 1, "rss_bytes": 3 << 20,
            "state": state, "reason": reason,
        })
        .to_string()
    }

    #[test]
    fn a_failing_group_is_unavailable_until_a_process_serves() {
        let dir = tempfile::tempdir().unwrap();
        let mut group = GroupFile {
            name: "shop".into(),
            processes: vec![10],
            restarts: Vec::new(),
            failing: None,
        };
        assert_eq!(unavailable(&group, dir.path()), None, "not failing");
        group.failing = Some(Failing {
            since: 900,
            reason: "app /srv/a.so: its init failed: no secret_key".into(),
        });
        // The process being started has no file yet.
        let why = unavailable(&group, dir.path()).expect("unavailable");
        assert!(why.contains("no secret_key"), "{why}");
        fs::write(
            dir.path().join("10.json"),
            process_json(10, FAILED_STATE, Some("x")),
        )
        .unwrap();
        assert!(
            unavailable(&group, dir.path()).is_some(),
            "a failed process does not count"
        );
        fs::write(
            dir.path().join("10.json"),
            process_json(10, "serving", None),
        )
        .unwrap();
        assert_eq!(unavailable(&group, dir.path()), None, "a process serves");
        let view = group_view(&group, dir.path(), None, 1100);
        assert_eq!(view.failing, None);
        // Once no live process serves, the group is unavailable again.
        fs::remove_file(dir.path().join("10.json")).unwrap();
        let view = group_view(&group, dir.path(), None, 2100);
        assert!(
            view.failing
                .as_deref()
                .is_some_and(|r| r.contains("secret_key"))
        );
        let html = to_html(&[view], "h", 2100);
        assert!(
            html.contains("Cannot start: app /srv/a.so: its init failed"),
            "{html}"
        );
    }

    #[test]
    fn apps_are_described_in_words() {
        let status = serde_json::json!({
            "kind": "WSGI script",
            "python": "3.11.2",
            "script": "/srv/app/wsgi.py",
            "imported": false,
            "import_error": { "at": 1000, "cause": "SyntaxError: invalid syntax" },
            "nothing": null,
        });
        let text = describe_app(&status, 1065);
        assert!(text.contains("kind: WSGI script"), "{text}");
        assert!(text.contains("python: 3.11.2"), "{text}");
        assert!(text.contains("script: /srv/app/wsgi.py"), "{text}");
        assert!(
            text.contains("import failed 1 min 5 s ago: SyntaxError: invalid syntax"),
            "{text}"
        );
        assert!(!text.contains("nothing"), "{text}");
    }

    #[test]
    fn group_view_reads_process_files() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("10.json"),
            process_json(10, "serving", None),
        )
        .unwrap();
        let group = GroupFile {
            name: "shop".into(),
            processes: vec![10, 11],
            restarts: vec![Restart {
                at: 1090,
                pid: 9,
                reason: "killed by signal 9 (SIGKILL)".into(),
            }],
            failing: None,
        };
        let view = group_view(&group, dir.path(), Some(3), 1100);
        assert_eq!(view.processes[0].uptime_s, 100);
        assert_eq!(view.processes[0].requests, 12);
        assert_eq!(view.processes[1].state, "starting");
        let json: serde_json::Value =
            serde_json::from_str(&to_json(std::slice::from_ref(&view))).unwrap();
        assert_eq!(json["groups"][0]["name"], "shop");
        assert_eq!(json["groups"][0]["queue"], 3);
        assert_eq!(json["groups"][0]["processes"][0]["rss_bytes"], 3 << 20);
        assert_eq!(json["groups"][0]["restarts"][0]["pid"], 9);
        let html = to_html(&[view], "host <x>", 1100);
        assert!(html.contains("Group shop"));
        assert!(html.contains("host &lt;x&gt;"));
        assert!(html.contains("killed by signal 9 (SIGKILL)"));
        assert!(html.contains("3.0 MiB"));
    }

    #[test]
    fn restart_reasons_prefer_the_process_own_words() {
        let recycling: ProcessFile = serde_json::from_str(&process_json(
            1,
            "recycling",
            Some("20 requests served (maximum-requests)"),
        ))
        .unwrap();
        assert_eq!(
            restart_reason(Some(&recycling), "exited with status 0"),
            "recycling: 20 requests served (maximum-requests); exited with status 0"
        );
        let serving: ProcessFile = serde_json::from_str(&process_json(1, "serving", None)).unwrap();
        assert_eq!(
            restart_reason(Some(&serving), "killed by signal 11 (SIGSEGV)"),
            "killed by signal 11 (SIGSEGV)"
        );
        assert_eq!(
            restart_reason(None, "exited with status 3"),
            "exited with status 3"
        );
    }

    #[test]
    fn restarts_are_capped() {
        let mut group = GroupFile::default();
        for pid in 0..(RESTARTS_KEPT as u32 + 10) {
            group.record_restart(Restart {
                at: 0,
                pid,
                reason: String::new(),
            });
        }
        assert_eq!(group.restarts.len(), RESTARTS_KEPT);
        assert_eq!(group.restarts[0].pid, 10);
    }

    #[test]
    fn symlinks_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("real"), "secret").unwrap();
        std::os::unix::fs::symlink(dir.path().join("real"), dir.path().join("5.json")).unwrap();
        assert_eq!(read_file(&dir.path().join("5.json")), None);
        assert_eq!(
            read_file(&dir.path().join("real")).as_deref(),
            Some("secret")
        );
    }

    #[test]
    fn empty_page() {
        assert!(to_html(&[], "s", 0).contains("No daemon process groups"));
        assert_eq!(to_json(&[]), r#"{"groups":[]}"#);
    }
}
