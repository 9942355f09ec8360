//! The health check a load balancer polls: `?health` on the status page
//! (`SetHandler rustgi-status`). 200 when every daemon group of this Apache
//! can take requests, 503 when one cannot or when Apache is draining,
//! stopping or restarting gracefully; both with a short JSON body that
//! names the group at fault:
//!
//! ```text
//! {"status":"ok","groups":{"shop":"ok"}}
//! {"status":"unavailable","group":"shop","reason":"no process serves: 2 starting","groups":{"shop":"no process serves: 2 starting"}}
//! {"status":"stopping","reason":"Apache is stopping gracefully","groups":{"shop":"ok"}}
//! ```
//!
//! Pure code: the facts come from the files the status page reads (the
//! parent's group file, each process's status file), the socket's backlog
//! and what the Apache child knows of its MPM.

use std::time::Duration;

use serde::Serialize;
use serde::ser::SerializeMap;

use crate::status::{FAILED_STATE, GroupFile, ProcessFile};

/// What Apache as a whole is doing, as the child answering sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostState {
    Running,
    /// The drain file exists: the balancer is asked to send nothing new.
    Draining,
    /// Told to stop gracefully (`apachectl graceful-stop`, SIGWINCH).
    Stopping,
    /// Restarting gracefully (`apachectl graceful`, SIGUSR1): the child
    /// answering belongs to the generation that is going away.
    Restarting,
}

impl HostState {
    fn word(self) -> &'static str {
        match self {
            HostState::Running => "ok",
            HostState::Draining => "draining",
            HostState::Stopping => "stopping",
            HostState::Restarting => "restarting",
        }
    }

    fn reason(self) -> Option<&'static str> {
        match self {
            HostState::Running => None,
            HostState::Draining => {
                Some("the drain file exists: this host takes no new requests from the balancer")
            }
            HostState::Stopping => Some("Apache is stopping gracefully"),
            HostState::Restarting => Some("Apache is restarting gracefully"),
        }
    }
}

/// How long after a process refused a request for queue-timeout the group
/// counts as saturated (the status files are rewritten every second).
pub const RECENT_REFUSAL: u64 = 3;

/// How far back restarts are counted in a reason.
pub const RESTARTS_WINDOW: u64 = 10;

/// One process the parent lists for a group.
#[derive(Debug, Clone)]
pub struct ProcessFacts {
    pub pid: u32,
    /// Its status file, when it has written one.
    pub file: Option<ProcessFile>,
    /// Whether the process exists (the parent may not have noticed a death
    /// yet, or may be gone itself).
    pub alive: bool,
}

/// What is known of a daemon group.
#[derive(Debug, Clone)]
pub struct GroupFacts<'a> {
    pub group: &'a GroupFile,
    pub processes: Vec<ProcessFacts>,
    /// Connections waiting in the socket's backlog, when the kernel says.
    pub queue: Option<u32>,
    /// The group's queue-timeout (zero: off).
    pub queue_timeout: Duration,
}

fn serving(p: &ProcessFacts) -> Option<&ProcessFile> {
    p.file.as_ref().filter(|f| p.alive && f.state == "serving")
}

/// Why the group cannot take requests now, or None when it can.
///
/// It cannot when none of its live processes serves (they are starting,
/// recycling, crashing or failing to start), or when requests wait in its
/// queue past queue-timeout: a process refused one for that a moment ago
/// and some still wait, or every thread of every serving process has been
/// busy, with nothing finished, for queue-timeout while some wait.
pub fn group_problem(facts: &GroupFacts, now_unix: u64) -> Option<String> {
    let serving: Vec<&ProcessFile> = facts.processes.iter().filter_map(serving).collect();
    if let Some(failing) = &facts.group.failing
        && !serving.iter().any(|p| p.started_unix >= failing.since)
    {
        return Some(format!("cannot start: {}", failing.reason));
    }
    if serving.is_empty() {
        return Some(no_process_serves(facts, now_unix));
    }
    let queue_timeout = facts.queue_timeout.as_secs();
    if queue_timeout == 0 {
        return None;
    }
    let waiting = facts.queue.unwrap_or(0);
    let refused = serving
        .iter()
        .filter_map(|p| p.last_queue_timeout_unix)
        .max()
        .filter(|&at| now_unix.saturating_sub(at) <= RECENT_REFUSAL);
    if let Some(at) = refused
        && facts.queue != Some(0)
    {
        let waiting = facts
            .queue
            .map_or_else(String::new, |q| format!("; {q} waiting"));
        return Some(format!(
            "queue past queue-timeout ({queue_timeout} s): a request was refused {} s ago{waiting}",
            now_unix.saturating_sub(at)
        ));
    }
    let stalled_for = serving
        .iter()
        .map(|p| {
            if p.in_flight >= p.threads {
                now_unix.saturating_sub(p.last_done_unix.max(p.started_unix))
            } else {
                0
            }
        })
        .min()
        .unwrap_or(0);
    if waiting > 0 && stalled_for >= queue_timeout {
        return Some(format!(
            "queue past queue-timeout ({queue_timeout} s): {waiting} waiting, every thread busy \
             and none done for {stalled_for} s"
        ));
    }
    None
}

fn no_process_serves(facts: &GroupFacts, now_unix: u64) -> String {
    let mut starting = 0;
    let mut stopping = 0;
    let mut failed = 0;
    let mut gone = 0;
    for p in &facts.processes {
        match (&p.file, p.alive) {
            (_, false) => gone += 1,
            (None, true) => starting += 1,
            (Some(f), true) if f.state == FAILED_STATE => failed += 1,
            (Some(_), true) => stopping += 1,
        }
    }
    let mut parts = Vec::new();
    for (n, what) in [
        (starting, "starting"),
        (stopping, "recycling or stopping"),
        (failed, "failed to start"),
        (gone, "gone"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    let mut text = if parts.is_empty() {
        "no process serves: the group has none".to_owned()
    } else {
        format!("no process serves: {}", parts.join(", "))
    };
    let recent: Vec<_> = facts
        .group
        .restarts
        .iter()
        .filter(|r| now_unix.saturating_sub(r.at) <= RESTARTS_WINDOW)
        .collect();
    if let Some(last) = recent.last() {
        text.push_str(&format!(
            "; {} restart{} in the last {RESTARTS_WINDOW} s, the last: {}",
            recent.len(),
            if recent.len() == 1 { "" } else { "s" },
            last.reason
        ));
    }
    text
}

/// The answer to a health check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// 200 or 503.
    pub status: u16,
    /// The JSON body.
    pub body: String,
}

/// Each group in configuration order, as `"name": "ok"` or its problem.
struct Groups<'a>(&'a [(String, Option<String>)]);

impl Serialize for Groups<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, problem) in self.0 {
            map.serialize_entry(name, problem.as_deref().unwrap_or("ok"))?;
        }
        map.end()
    }
}

#[derive(Serialize)]
struct Body<'a> {
    status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    groups: Groups<'a>,
}

/// The answer, from what Apache is doing and each group's problem (None:
/// it can take requests). Apache's own state comes first: a host that is
/// going away is drained whatever its groups say.
pub fn verdict(host: HostState, groups: &[(String, Option<String>)]) -> Verdict {
    let at_fault = groups
        .iter()
        .find_map(|(name, problem)| problem.as_deref().map(|p| (name.as_str(), p)));
    let (status, word, group, reason) = match (host, at_fault) {
        (HostState::Running, None) => (200, "ok", None, None),
        (HostState::Running, Some((name, problem))) => {
            (503, "unavailable", Some(name), Some(problem))
        }
        (state, _) => (503, state.word(), None, state.reason()),
    };
    let body = serde_json::to_string(&Body {
        status: word,
        group,
        reason,
        groups: Groups(groups),
    })
    .unwrap_or_else(|_| format!("{{\"status\":\"{word}\"}}"));
    Verdict { status, body }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{Failing, Restart};

    const NOW: u64 = 10_000;

    fn file(state: &str) -> ProcessFile {
        serde_json::from_value(serde_json::json!({
            "pid": 1, "user": "shop", "started_unix": NOW - 100, "threads": 4,
            "requests": 10, "in_flight": 0, "rss_bytes": 1, "state": state,
            "reason": null, "last_done_unix": NOW - 1,
        }))
        .unwrap()
    }

    fn process(pid: u32, file: Option<ProcessFile>, alive: bool) -> ProcessFacts {
        ProcessFacts { pid, file, alive }
    }

    fn facts(
        group: &GroupFile,
        processes: Vec<ProcessFacts>,
        queue: Option<u32>,
    ) -> GroupFacts<'_> {
        GroupFacts {
            group,
            processes,
            queue,
            queue_timeout: Duration::from_secs(5),
        }
    }

    fn named(name: &str) -> GroupFile {
        GroupFile {
            name: name.into(),
            ..GroupFile::default()
        }
    }

    #[test]
    fn a_serving_process_is_enough() {
        let g = named("shop");
        let f = facts(
            &g,
            vec![
                process(1, Some(file("serving")), true),
                process(2, None, true),
            ],
            Some(0),
        );
        assert_eq!(group_problem(&f, NOW), None);
    }

    #[test]
    fn no_live_process_is_a_problem_that_says_why() {
        let mut g = named("shop");
        g.restarts.push(Restart {
            at: NOW - 2,
            pid: 7,
            reason: "killed by signal 6 (SIGABRT)".into(),
        });
        g.restarts.push(Restart {
            at: NOW - 100,
            pid: 6,
            reason: "old".into(),
        });
        let f = facts(
            &g,
            vec![
                process(1, None, true),
                process(2, Some(file("recycling")), true),
                process(3, Some(file("serving")), false),
            ],
            Some(3),
        );
        let why = group_problem(&f, NOW).expect("a problem");
        assert_eq!(
            why,
            "no process serves: 1 starting, 1 recycling or stopping, 1 gone; 1 restart in the \
             last 10 s, the last: killed by signal 6 (SIGABRT)"
        );
        let empty = facts(&g, Vec::new(), None);
        assert!(
            group_problem(&empty, NOW + 60)
                .unwrap()
                .starts_with("no process serves: the group has none"),
        );
    }

    #[test]
    fn a_group_that_cannot_start_names_the_cause() {
        let mut g = named("shop");
        g.failing = Some(Failing {
            since: NOW - 5,
            reason: "app /srv/a.so: its init failed: no secret_key".into(),
        });
        let f = facts(&g, vec![process(1, Some(file(FAILED_STATE)), true)], None);
        assert_eq!(
            group_problem(&f, NOW).as_deref(),
            Some("cannot start: app /srv/a.so: its init failed: no secret_key")
        );
        // A process that serves since the failures began ends it.
        let mut fresh = file("serving");
        fresh.started_unix = NOW - 1;
        let f = facts(&g, vec![process(1, Some(fresh), true)], None);
        assert_eq!(group_problem(&f, NOW), None);
    }

    #[test]
    fn a_recent_refusal_for_queue_timeout_with_requests_waiting() {
        let g = named("shop");
        let mut p = file("serving");
        p.queue_timeouts = 4;
        p.last_queue_timeout_unix = Some(NOW - 1);
        let f = facts(&g, vec![process(1, Some(p.clone()), true)], Some(6));
        assert_eq!(
            group_problem(&f, NOW).as_deref(),
            Some("queue past queue-timeout (5 s): a request was refused 1 s ago; 6 waiting")
        );
        // The backlog drained: the burst is over.
        let f = facts(&g, vec![process(1, Some(p.clone()), true)], Some(0));
        assert_eq!(group_problem(&f, NOW), None);
        // The queue is not known: the refusal alone counts.
        let f = facts(&g, vec![process(1, Some(p.clone()), true)], None);
        assert!(group_problem(&f, NOW).is_some());
        // An old refusal does not.
        p.last_queue_timeout_unix = Some(NOW - RECENT_REFUSAL - 1);
        let f = facts(&g, vec![process(1, Some(p), true)], Some(6));
        assert_eq!(group_problem(&f, NOW), None);
    }

    #[test]
    fn every_thread_stuck_past_queue_timeout_with_requests_waiting() {
        let g = named("shop");
        let mut busy = file("serving");
        busy.in_flight = 4;
        busy.last_done_unix = NOW - 7;
        let f = facts(&g, vec![process(1, Some(busy.clone()), true)], Some(2));
        assert_eq!(
            group_problem(&f, NOW).as_deref(),
            Some(
                "queue past queue-timeout (5 s): 2 waiting, every thread busy and none done for 7 s"
            )
        );
        // Nothing waits: busy, not saturated.
        let f = facts(&g, vec![process(1, Some(busy.clone()), true)], Some(0));
        assert_eq!(group_problem(&f, NOW), None);
        // Busy but finishing requests all along: the queue moves.
        let mut moving = busy.clone();
        moving.last_done_unix = NOW;
        let f = facts(&g, vec![process(1, Some(moving), true)], Some(2));
        assert_eq!(group_problem(&f, NOW), None);
        // Another process has an idle thread: it takes the queue.
        let f = facts(
            &g,
            vec![
                process(1, Some(busy.clone()), true),
                process(2, Some(file("serving")), true),
            ],
            Some(2),
        );
        assert_eq!(group_problem(&f, NOW), None);
        // queue-timeout off: waiting is what the operator chose.
        let mut off = facts(&g, vec![process(1, Some(busy), true)], Some(2));
        off.queue_timeout = Duration::ZERO;
        assert_eq!(group_problem(&off, NOW), None);
    }

    fn parse(v: &Verdict) -> serde_json::Value {
        serde_json::from_str(&v.body).unwrap()
    }

    #[test]
    fn verdicts() {
        let ok = vec![("shop".to_owned(), None), ("api".to_owned(), None)];
        let v = verdict(HostState::Running, &ok);
        assert_eq!(v.status, 200);
        assert_eq!(
            v.body,
            r#"{"status":"ok","groups":{"shop":"ok","api":"ok"}}"#
        );

        let down = vec![
            ("shop".to_owned(), None),
            (
                "api".to_owned(),
                Some("no process serves: 2 starting".to_owned()),
            ),
        ];
        let v = verdict(HostState::Running, &down);
        assert_eq!(v.status, 503);
        assert_eq!(
            v.body,
            r#"{"status":"unavailable","group":"api","reason":"no process serves: 2 starting","groups":{"shop":"ok","api":"no process serves: 2 starting"}}"#
        );

        for (state, word) in [
            (HostState::Draining, "draining"),
            (HostState::Stopping, "stopping"),
            (HostState::Restarting, "restarting"),
        ] {
            let v = verdict(state, &ok);
            assert_eq!(v.status, 503, "{state:?}");
            let json = parse(&v);
            assert_eq!(json["status"], word);
            assert!(json["reason"].as_str().unwrap().len() > 10);
            assert!(json.get("group").is_none());
            // Apache's state comes before a group's.
            assert_eq!(parse(&verdict(state, &down))["status"], word);
        }

        let none = verdict(HostState::Running, &[]);
        assert_eq!(none.status, 200);
        assert_eq!(none.body, r#"{"status":"ok","groups":{}}"#);
    }

    #[test]
    fn names_are_escaped() {
        let odd = vec![("a\"b".to_owned(), Some("x\ny".to_owned()))];
        let json = parse(&verdict(HostState::Running, &odd));
        assert_eq!(json["group"], "a\"b");
        assert_eq!(json["reason"], "x\ny");
    }
}
