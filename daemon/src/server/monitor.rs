//! The monitor thread: the ACCEPTED of silent apps, the status file, and
//! the recycle triggers (request-timeout, restart-interval,
//! inactivity-timeout, memory-limit, script-reloading), checked every
//! second.

use std::time::Duration;

use rustgi_contract::status_file as status;

use super::{Shared, StopCause, close_idle_connections, lock};
use crate::belonging::Belonging;
use crate::{acceptance, log, sys};

/// The resident set size in bytes, from /proc/self/statm.
fn rss_bytes(page_size: u64) -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page_size)
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

/// Writes this process's status file, when the group has a status directory.
pub(super) fn write_status(shared: &Shared) {
    let Some(dir) = &shared.config.status_dir else {
        return;
    };
    let (requests, in_flight, state, reason, last_done_unix, queue_timeouts, last_queue_timeout) = {
        let st = shared.state();
        let (state, reason) = match &st.stop {
            None => ("serving", None),
            Some(stop) if stop.hard => ("stopping", Some(stop.why.clone())),
            Some(stop) => ("recycling", Some(stop.why.clone())),
        };
        (
            st.served,
            shared.in_flight(&st),
            state,
            reason,
            st.last_done_unix,
            st.queue_timeouts,
            st.last_queue_timeout_unix,
        )
    };
    status::write(
        dir,
        &status::ProcessStatus {
            pid: shared.pid,
            user: shared.user.clone(),
            started_unix: shared.started_unix,
            threads: shared.config.threads,
            requests,
            in_flight,
            rss_bytes: rss_bytes(sys::page_size()).unwrap_or(0),
            state,
            reason,
            apps: shared.apps.statuses(),
            last_done_unix,
            queue_timeouts,
            last_queue_timeout_unix: last_queue_timeout,
        },
    );
}

/// Sends silent apps' ACCEPTED; checks the recycle triggers every second.
pub(super) fn monitor(shared: &'static Shared, belonging: &Belonging) {
    let config = &shared.config;
    let page_size = sys::page_size();
    let per_second = (Duration::from_secs(1).as_millis() / acceptance::SILENCE.as_millis()).max(1);
    for tick in 1u128.. {
        // Silent apps' ACCEPTED, at every tick, so that it is never much
        // later than SILENCE; the rest once a second.
        std::thread::sleep(acceptance::SILENCE);
        for acceptance in &shared.acceptances {
            acceptance.send_if_silent();
        }
        if tick % per_second != 0 {
            continue;
        }
        write_status(shared);
        close_idle_connections(shared);
        if let Some(lost) = belonging.lost() {
            // No supervisor will stop or replace this process: it must not
            // go on running the app on its own.
            shared.request_stop(StopCause::Shutdown(lost));
        }
        if shared.stopping() {
            continue;
        }
        if config.request_timeout > 0 {
            let limit = Duration::from_secs(config.request_timeout);
            let mut late = None;
            for (slot, clock) in shared.running.iter().zip(&shared.clocks) {
                let mut slot = lock(slot);
                let app_time = clock.app_time();
                if let Some(r) = slot.as_mut().filter(|r| !r.reported && app_time > limit) {
                    r.reported = true;
                    late = Some((r.uri.clone(), app_time));
                }
            }
            if let Some((uri, elapsed)) = late {
                log::error(&format!(
                    "request-timeout: the app has worked on request {uri} for {:.1} s (time spent waiting for the client not counted), over the request-timeout of {} s; the process recycles and exits within {} s",
                    elapsed.as_secs_f64(),
                    config.request_timeout,
                    config.graceful_timeout
                ));
                shared.request_stop(StopCause::Recycle(format!(
                    "a request ran longer than {} s (request-timeout)",
                    config.request_timeout
                )));
                continue;
            }
        }
        let cause = if config.restart_interval > 0
            && shared.started.elapsed() >= Duration::from_secs(config.restart_interval)
        {
            Some(format!(
                "running for {} s (restart-interval)",
                config.restart_interval
            ))
        } else if config.inactivity_timeout > 0
            && shared.activity.idle_for() >= Duration::from_secs(config.inactivity_timeout)
        {
            Some(format!(
                "no activity for {} s (inactivity-timeout)",
                config.inactivity_timeout
            ))
        } else if let Some(rss) = (config.memory_limit > 0)
            .then(|| rss_bytes(page_size))
            .flatten()
            .filter(|&rss| rss > config.memory_limit)
        {
            Some(format!(
                "resident memory of {} over the limit of {} (memory-limit)",
                mib(rss),
                mib(config.memory_limit)
            ))
        } else if config.script_reloading {
            shared
                .apps
                .reloadable_change()
                .map(|file| format!("{} changed (script-reloading)", file.display()))
        } else {
            None
        };
        if let Some(cause) = cause {
            shared.request_stop(StopCause::Recycle(cause));
        }
    }
}
