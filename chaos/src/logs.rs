//! Reading Apache's error_log and access_log: which processes crashed,
//! which daemon processes died and how, which requests got a 5xx.
//!
//! Standard library only: `tests/e2e/solo/hostile.rs` compiles this file too.

use std::collections::BTreeSet;

/// One error_log line, split into its parts (default `ErrorLogFormat`:
/// `[time] [module:level] [pid P:tid T] [client A:PORT] message`).
#[derive(Clone, Debug)]
pub struct Entry<'a> {
    /// The time, as seconds since the Unix epoch, when it could be read
    /// (the log has local time; `utc_offset` converts it).
    pub time: Option<f64>,
    /// `module:level`, e.g. `rustgi:error`.
    pub tag: &'a str,
    /// The pid of the process that wrote the line.
    pub pid: Option<u32>,
    /// The port of the `[client ADDR:PORT]` part.
    pub client_port: Option<u16>,
    /// The rest of the line.
    pub message: &'a str,
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Days from 1970-01-01 to the civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses `Sat Nov 21 14:19:49.854842 2026` (local time) into seconds since
/// the epoch, given the local time's offset from UTC in seconds.
pub fn parse_time(text: &str, utc_offset: i64) -> Option<f64> {
    let mut w = text.split_whitespace();
    let _weekday = w.next()?;
    let month_name = w.next()?;
    let month = MONTHS.iter().position(|m| *m == month_name)? as i64 + 1;
    let day: i64 = w.next()?.parse().ok()?;
    let clock = w.next()?;
    let year: i64 = w.next()?.parse().ok()?;
    let mut c = clock.split(':');
    let h: i64 = c.next()?.parse().ok()?;
    let m: i64 = c.next()?.parse().ok()?;
    let s: f64 = c.next()?.parse().ok()?;
    let days = days_from_civil(year, month, day);
    Some((days * 86_400 + h * 3600 + m * 60 - utc_offset) as f64 + s)
}

/// Splits an error_log line (see [`Entry`]).
pub fn parse_line(line: &str, utc_offset: i64) -> Entry<'_> {
    let mut rest = line;
    let mut fields: Vec<&str> = Vec::new();
    // Up to four leading `[...]` fields.
    while fields.len() < 4 {
        let Some(inner) = rest.strip_prefix('[') else {
            break;
        };
        let Some(end) = inner.find(']') else { break };
        let field = &inner[..end];
        // The message itself may start with a bracket: only the known
        // fields are taken.
        let known = match fields.len() {
            0 | 1 => true,
            _ => field.starts_with("pid ") || field.starts_with("client "),
        };
        if !known {
            break;
        }
        fields.push(field);
        rest = inner[end + 1..].trim_start();
    }
    let time = fields.first().and_then(|t| parse_time(t, utc_offset));
    let tag = fields.get(1).copied().unwrap_or("");
    let mut pid = None;
    let mut client_port = None;
    for f in fields.iter().skip(2) {
        if let Some(p) = f.strip_prefix("pid ") {
            pid = p.split(':').next().and_then(|p| p.trim().parse().ok());
        } else if let Some(c) = f.strip_prefix("client ") {
            client_port = c.rsplit(':').next().and_then(|p| p.trim().parse().ok());
        }
    }
    Entry {
        time,
        tag,
        pid,
        client_port,
        message: rest,
    }
}

/// The number right after `prefix` in `text`, if any.
fn number_after(text: &str, prefix: &str) -> Option<u32> {
    let i = text.find(prefix)? + prefix.len();
    let digits: String = text[i..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Every pid the log names as a rustgi daemon process: the group start-up
/// lines (`pids A, B`), the parent's lines about a process (`group G:
/// process N ...`, `retired process N`), the Apache children's (`group G,
/// pid N: ...`) and the daemons' own lines.
pub fn daemon_pids(log: &str) -> BTreeSet<u32> {
    let mut pids = BTreeSet::new();
    for line in log.lines() {
        let e = parse_line(line, 0);
        let msg = e.message;
        if !msg.starts_with("group ") {
            continue;
        }
        if let Some(i) = msg.find(", pids ") {
            for p in msg[i + 7..].split(',') {
                if let Ok(p) = p.trim().parse() {
                    pids.insert(p);
                }
            }
        }
        for prefix in [": process ", ": retired process ", ", pid "] {
            if let Some(p) = number_after(msg, prefix) {
                pids.insert(p);
            }
        }
        // A daemon's own lines have no client and say `group G: ...` from
        // the daemon's pid; Apache's parent writes `group G: N processes`
        // and the death lines, whose pid is the parent's: those name
        // another pid, handled above.
        if e.client_port.is_none()
            && let Some(pid) = e.pid
            && (msg.contains(": process ") && number_after(msg, ": process ") == Some(pid)
                || msg.contains(": loaded app ")
                || msg.contains(": recycling"))
        {
            pids.insert(pid);
        }
    }
    pids
}

/// Lines where Apache's parent reports a child that died of a signal
/// (`AH00051`, `AH00052`: `child pid N exit signal ...`) and whose pid is
/// not a rustgi daemon's (the parent reaps those too, and logs them the
/// same way): crashes of Apache's own children. `also_daemons` adds pids
/// known otherwise to be daemons (e.g. those killed on purpose).
pub fn child_crashes(log: &str, also_daemons: &BTreeSet<u32>) -> Vec<String> {
    let daemons = daemon_pids(log);
    log.lines()
        .filter(|l| l.contains("AH00051") || l.contains("AH00052"))
        .filter(|l| {
            number_after(l, "child pid ")
                .is_none_or(|pid| !daemons.contains(&pid) && !also_daemons.contains(&pid))
        })
        .map(str::to_owned)
        .chain(
            // The parent itself.
            log.lines()
                .filter(|l| l.contains("AH00060") || l.contains("AH00061"))
                .map(str::to_owned),
        )
        .collect()
}

/// A daemon process's end, as the Apache parent logged it.
#[derive(Clone, Debug, PartialEq)]
pub struct Death {
    pub group: String,
    pub pid: u32,
    /// `killed by signal 9 (SIGKILL)`, `exited with status 3`, ...
    pub how: String,
    /// Whether it had been retired (recycled or replaced) before it ended.
    pub retired: bool,
    /// When the parent logged it (seconds since the epoch).
    pub time: Option<f64>,
}

impl Death {
    /// Whether the process ended on its own terms (status 0).
    pub fn is_clean(&self) -> bool {
        self.how.contains("exited with status 0")
    }
}

/// Every daemon process end the parent logged.
pub fn daemon_deaths(log: &str, utc_offset: i64) -> Vec<Death> {
    let mut out = Vec::new();
    for line in log.lines() {
        let e = parse_line(line, utc_offset);
        let Some(rest) = e.message.strip_prefix("group ") else {
            continue;
        };
        let Some((group, rest)) = rest.split_once(": ") else {
            continue;
        };
        let (retired, rest) = match rest.strip_prefix("retired process ") {
            Some(r) => (true, r),
            None => match rest.strip_prefix("process ") {
                Some(r) if r.contains("; starting a new one") => (false, r),
                _ => continue,
            },
        };
        let Some((pid, how)) = rest.split_once(' ') else {
            continue;
        };
        let Ok(pid) = pid.parse() else { continue };
        let how = how.split("; starting").next().unwrap_or(how).to_owned();
        out.push(Death {
            group: group.to_owned(),
            pid,
            how,
            retired,
            time: e.time,
        });
    }
    out
}

/// Access-log lines (`%h %l %u %t "%r" %>s %b %D`) with a 5xx status.
pub fn server_errors(access_log: &str) -> Vec<String> {
    access_log
        .lines()
        .filter(|l| {
            let mut w = l.rsplit(' ');
            let _duration = w.next();
            let _bytes = w.next();
            w.next().is_some_and(|s| s.len() == 3 && s.starts_with('5'))
        })
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
[Sat Nov 21 14:19:48.805071 2026] [rustgi:notice] [pid 20853:tid 20853] group chaos: 2 processes x 4 threads, user nobody, socket /tmp/exp/rustgi/chaos.sock, pids 20855, 20856
[Sat Nov 21 14:19:48.812782 2026] [rustgi:notice] [pid 20995] group chaos: process 20995 ready, 4 threads, user nobody
[Sat Nov 21 14:19:49.854842 2026] [rustgi:error] [pid 20858:tid 20861] [client 127.0.0.1:35056] group chaos, pid 20855: process 20855 closed the connection before the response ended
[Sat Nov 21 14:19:50.811419 2026] [core:notice] [pid 20853:tid 20853] AH00052: child pid 20855 exit signal Abort (6)
[Sat Nov 21 14:19:50.811419 2026] [core:notice] [pid 20853:tid 20853] AH00052: child pid 30000 exit signal Segmentation fault (11)
[Sat Nov 21 14:19:50.811938 2026] [rustgi:error] [pid 20853:tid 20853] group chaos: process 20855 killed by signal 6 (SIGABRT); starting a new one in 100 ms
[Sat Nov 21 14:19:52.000000 2026] [rustgi:info] [pid 20853:tid 20853] group chaos: retired process 20856 exited with status 0
";

    #[test]
    fn lines() {
        let e = parse_line(LOG.lines().nth(2).unwrap(), 0);
        assert_eq!(e.pid, Some(20858));
        assert_eq!(e.client_port, Some(35056));
        assert_eq!(e.tag, "rustgi:error");
        assert!(e.message.starts_with("group chaos, pid 20855:"));
        // 2026-11-21 14:19:49.854842 UTC.
        let t = e.time.unwrap();
        assert!((t - 1_795_270_789.854_842).abs() < 1e-3, "{t}");
        let e = parse_line(LOG.lines().nth(2).unwrap(), 3600);
        assert!((e.time.unwrap() - (t - 3600.0)).abs() < 1e-3);
    }

    #[test]
    fn pids_deaths_and_crashes() {
        let pids = daemon_pids(LOG);
        assert_eq!(pids.into_iter().collect::<Vec<_>>(), [20855, 20856, 20995]);
        let crashes = child_crashes(LOG, &BTreeSet::new());
        assert_eq!(crashes.len(), 1, "{crashes:?}");
        assert!(crashes[0].contains("child pid 30000"));
        assert!(child_crashes(LOG, &BTreeSet::from([30000])).is_empty());
        let deaths = daemon_deaths(LOG, 0);
        assert_eq!(deaths.len(), 2, "{deaths:?}");
        assert_eq!(deaths[0].pid, 20855);
        assert_eq!(deaths[0].how, "killed by signal 6 (SIGABRT)");
        assert!(!deaths[0].retired && !deaths[0].is_clean());
        assert!(deaths[1].retired && deaths[1].is_clean());
    }

    #[test]
    fn access_log_5xx() {
        let log = "127.0.0.1 - - [21/Nov/2026:14:19:49 +0000] \"GET /a HTTP/1.1\" 200 5 100\n\
                   127.0.0.1 - - [21/Nov/2026:14:19:49 +0000] \"GET /b\\\" 200 HTTP/1.1\" 502 5 100\n\
                   127.0.0.1 - - [21/Nov/2026:14:19:49 +0000] \"-\" 408 - 100\n";
        let errors = server_errors(log);
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("/b"));
    }
}
