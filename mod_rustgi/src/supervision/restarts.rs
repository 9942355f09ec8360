//! What follows a daemon process's death: the restart the group file
//! records, whether the group is failing to start, and when the next
//! process starts. A process that dies young and uncleanly is a crash:
//! crashes in a row wait longer and longer (a crash loop must not keep
//! the parent forking), while a clean exit — a recycle after
//! maximum-requests, restart-interval or a changed script, or a stop
//! requested — is replaced at once.

use std::time::Duration;

use crate::status::{self, Failing, GroupFile, ProcessFile, Restart};

/// A process that lived less than this and did not exit cleanly crashed.
pub const SHORT_LIFE: Duration = Duration::from_secs(10);

/// What the parent keeps of a group across its processes' deaths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupRecord {
    /// The group file: its processes, restarts, and whether it is failing.
    pub file: GroupFile,
    /// Crashes in a row, for the back-off.
    pub crash_streak: u32,
}

/// A process of a group that ended.
#[derive(Debug, Clone)]
pub struct Death<'a> {
    pub pid: u32,
    /// The status Apache's MPM reports (see [`describe_exit`]).
    pub status: i32,
    /// How long it ran.
    pub lived: Duration,
    /// Its status file as it last wrote it, if it wrote one.
    pub own_words: Option<&'a ProcessFile>,
    pub now_unix: u64,
    /// Apache is shutting down: nothing starts again.
    pub exiting: bool,
}

/// The process to start in the dead one's place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Respawn {
    /// How long the new process waits before loading its apps
    /// (`--start-delay-ms`): the back-off.
    pub delay_ms: u64,
    /// Whether the death is logged as an error (else as a notice).
    pub error: bool,
    pub message: String,
}

impl GroupRecord {
    /// Group `name`'s record in a new configuration generation: the
    /// previous generation's file if it had the group (the restarts stay
    /// on the status page), with a crash streak that starts again.
    pub fn carried(name: &str, previous: Option<GroupFile>) -> GroupRecord {
        let mut file = previous.unwrap_or_default();
        file.name = name.to_owned();
        GroupRecord {
            file,
            crash_streak: 0,
        }
    }

    /// Records `death`, and says what replaces the process: nothing while
    /// Apache exits. The caller rewrites the group file when a process is
    /// started.
    pub fn after_death(&mut self, death: &Death<'_>) -> Option<Respawn> {
        let how = describe_exit(death.status);
        let reason = status::restart_reason(death.own_words, &how);
        self.file.record_restart(Restart {
            at: death.now_unix,
            pid: death.pid,
            reason: reason.clone(),
        });
        let short_lived = death.lived < SHORT_LIFE;
        let failed_start = death
            .own_words
            .is_some_and(|w| w.state == status::FAILED_STATE);
        if failed_start {
            // Until a process serves, the children answer 503 at once.
            let since = self
                .file
                .failing
                .as_ref()
                .map_or(death.now_unix, |f| f.since);
            self.file.failing = Some(Failing {
                since,
                reason: death
                    .own_words
                    .and_then(|w| w.reason.clone())
                    .unwrap_or_else(|| reason.clone()),
            });
        } else if !short_lived {
            self.file.failing = None;
        }
        let clean = clean_exit(death.status);
        if clean || !short_lived {
            self.crash_streak = 0;
        } else {
            self.crash_streak = self.crash_streak.saturating_add(1);
        }
        if death.exiting {
            return None;
        }
        let delay_ms = restart_delay_ms(self.crash_streak);
        let wait = if delay_ms > 0 {
            format!(" in {delay_ms} ms")
        } else {
            String::new()
        };
        Some(Respawn {
            delay_ms,
            error: !clean,
            message: format!(
                "group {}: process {} {}; starting a new one{wait}",
                self.file.name,
                death.pid,
                if failed_start { &reason } else { &how }
            ),
        })
    }
}

/// The signals that end processes in practice, by name.
const DEATH_SIGNALS: [(i32, &str); 9] = [
    (libc::SIGKILL, "SIGKILL"),
    (libc::SIGSEGV, "SIGSEGV"),
    (libc::SIGABRT, "SIGABRT"),
    (libc::SIGBUS, "SIGBUS"),
    (libc::SIGILL, "SIGILL"),
    (libc::SIGFPE, "SIGFPE"),
    (libc::SIGTERM, "SIGTERM"),
    (libc::SIGXCPU, "SIGXCPU"),
    (libc::SIGSYS, "SIGSYS"),
];

/// How a process ended, for log lines, from the status Apache's MPM passes
/// to other-child callbacks. The MPM has already decoded the wait status into
/// an exit code *or* a signal number and dropped which one it was; a number
/// that is one of the signals that end processes is read as that signal (an
/// app that exits with such a code is rare, and the daemon logs its own
/// exits), any other as an exit status.
pub fn describe_exit(code: i32) -> String {
    match DEATH_SIGNALS.iter().find(|(number, _)| *number == code) {
        Some((number, name)) => format!("killed by signal {number} ({name})"),
        None => format!("exited with status {code}"),
    }
}

/// Whether an exit was a clean one (a recycle or a requested stop).
pub fn clean_exit(code: i32) -> bool {
    code == 0
}

/// The delay before starting a process again after `streak` deaths in a row
/// of short-lived processes: 0.1 s doubling up to 10 s, against crash loops.
pub fn restart_delay_ms(streak: u32) -> u64 {
    if streak == 0 {
        0
    } else {
        (100u64 << (streak - 1).min(7)).min(10_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_700_000_000;

    fn own_words(state: &str, reason: Option<&str>) -> ProcessFile {
        ProcessFile {
            pid: 0,
            user: "shop".into(),
            started_unix: T0,
            threads: 4,
            requests: 0,
            in_flight: 0,
            rss_bytes: 0,
            state: state.into(),
            reason: reason.map(str::to_owned),
            apps: Vec::new(),
            last_done_unix: 0,
            queue_timeouts: 0,
            last_queue_timeout_unix: None,
        }
    }

    fn death(pid: u32, status: i32, lived_s: u64, now: u64) -> Death<'static> {
        Death {
            pid,
            status,
            lived: Duration::from_secs(lived_s),
            own_words: None,
            now_unix: now,
            exiting: false,
        }
    }

    fn shop() -> GroupRecord {
        GroupRecord::carried("shop", None)
    }

    #[test]
    fn a_crash_loop_backs_off_then_a_long_life_forgives_it() {
        let mut g = shop();
        let mut delays = Vec::new();
        for (i, pid) in (100..109).enumerate() {
            let r = g
                .after_death(&death(pid, libc::SIGSEGV, 1, T0 + i as u64))
                .unwrap();
            assert!(r.error);
            delays.push(r.delay_ms);
        }
        assert_eq!(
            delays,
            [100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000]
        );
        assert_eq!(g.crash_streak, 9);
        let last = g.file.restarts.last().unwrap();
        assert_eq!((last.at, last.pid), (T0 + 8, 108));
        assert_eq!(last.reason, "killed by signal 11 (SIGSEGV)");
        assert_eq!(g.file.restarts.len(), 9);

        // The next crash was of a process that served for a minute: no wait.
        let r = g
            .after_death(&death(200, libc::SIGKILL, 60, T0 + 100))
            .unwrap();
        assert_eq!(
            r,
            Respawn {
                delay_ms: 0,
                error: true,
                message: "group shop: process 200 killed by signal 9 (SIGKILL); starting a new one"
                    .into(),
            }
        );
        assert_eq!(g.crash_streak, 0);
        // And the back-off starts over.
        let r = g.after_death(&death(201, 3, 0, T0 + 101)).unwrap();
        assert_eq!(r.delay_ms, 100);
        assert!(
            r.message
                .ends_with("exited with status 3; starting a new one in 100 ms")
        );
    }

    #[test]
    fn a_recycle_on_a_changed_script_restarts_at_once() {
        let mut g = shop();
        // Two crashes first: a back-off is running.
        g.after_death(&death(1, libc::SIGABRT, 1, T0)).unwrap();
        g.after_death(&death(2, libc::SIGABRT, 1, T0 + 1)).unwrap();
        assert_eq!(g.crash_streak, 2);
        // A young process sees its script change and exits cleanly.
        let words = own_words(
            "recycling",
            Some("/srv/app.wsgi changed (script-reloading)"),
        );
        let r = g
            .after_death(&Death {
                own_words: Some(&words),
                ..death(3, 0, 2, T0 + 2)
            })
            .unwrap();
        assert_eq!(
            r,
            Respawn {
                delay_ms: 0,
                error: false,
                message: "group shop: process 3 exited with status 0; starting a new one".into(),
            }
        );
        assert_eq!(g.crash_streak, 0);
        assert_eq!(
            g.file.restarts.last().unwrap().reason,
            "recycling: /srv/app.wsgi changed (script-reloading); exited with status 0"
        );
    }

    #[test]
    fn a_failed_start_marks_the_group_failing_until_a_process_lives() {
        let mut g = shop();
        let words = own_words(
            status::FAILED_STATE,
            Some("ImportError: no module named flask"),
        );
        let failed = |pid, now| Death {
            own_words: Some(&words),
            ..death(pid, 1, 0, now)
        };
        let r = g.after_death(&failed(10, T0)).unwrap();
        // The log says why, in the process's words.
        assert_eq!(
            r.message,
            "group shop: process 10 failed: ImportError: no module named flask; exited with \
             status 1; starting a new one in 100 ms"
        );
        let failing = |g: &GroupRecord| g.file.failing.clone().map(|f| (f.since, f.reason));
        let expected = Some((T0, "ImportError: no module named flask".to_owned()));
        assert_eq!(failing(&g), expected);
        // Failing again keeps the time the failures began.
        g.after_death(&failed(11, T0 + 5)).unwrap();
        assert_eq!(failing(&g), expected);
        // A young process dying of something else says nothing either way.
        g.after_death(&death(12, libc::SIGKILL, 3, T0 + 6)).unwrap();
        assert_eq!(failing(&g), expected);
        // One that lived past SHORT_LIFE served: the group is no longer failing.
        g.after_death(&death(13, 0, SHORT_LIFE.as_secs(), T0 + 30))
            .unwrap();
        assert_eq!(failing(&g), None);
    }

    #[test]
    fn nothing_starts_while_apache_exits_but_the_death_is_recorded() {
        let mut g = shop();
        let d = Death {
            exiting: true,
            ..death(7, libc::SIGTERM, 1, T0)
        };
        assert_eq!(g.after_death(&d), None);
        assert_eq!(g.file.restarts.len(), 1);
        assert_eq!(g.crash_streak, 1);
    }

    #[test]
    fn a_new_generation_keeps_the_history_and_forgets_the_streak() {
        let mut g = shop();
        g.after_death(&death(1, libc::SIGSEGV, 1, T0)).unwrap();
        let carried = GroupRecord::carried("shop", Some(g.file.clone()));
        assert_eq!(carried.file.restarts, g.file.restarts);
        assert_eq!(carried.crash_streak, 0);
        let fresh = GroupRecord::carried("blog", None);
        assert_eq!(
            (fresh.file.name.as_str(), fresh.file.restarts.len()),
            ("blog", 0)
        );
    }

    #[test]
    fn exits_are_described() {
        assert_eq!(describe_exit(9), "killed by signal 9 (SIGKILL)");
        assert_eq!(describe_exit(11), "killed by signal 11 (SIGSEGV)");
        assert_eq!(describe_exit(3), "exited with status 3");
        assert_eq!(describe_exit(0), "exited with status 0");
        assert!(clean_exit(0));
        assert!(!clean_exit(9));
    }

    #[test]
    fn restart_delays_grow_and_cap() {
        assert_eq!(restart_delay_ms(0), 0);
        assert_eq!(restart_delay_ms(1), 100);
        assert_eq!(restart_delay_ms(2), 200);
        assert_eq!(restart_delay_ms(8), 10_000);
        assert_eq!(restart_delay_ms(30), 10_000);
        assert_eq!(restart_delay_ms(u32::MAX), 10_000);
    }
}
