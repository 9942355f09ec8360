//! The daemon's log: lines in Apache's error_log format on stderr, which is
//! Apache's error log, one `write(2)` per line so that lines of concurrent
//! writers never interleave:
//!
//! ```text
//! [Sat Nov 21 13:44:45.195782 2026] [rustgi:notice] [pid 4242] group shop: process 4242 ready, 15 threads, user shop
//! ```
//!
//! The time is local time, as in Apache's own lines. Control characters in a
//! message (a newline in an app's message, say) are escaped as `\n`, `\r` or
//! `\xHH`, so an entry is always one line.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::sys;

pub const EMERG: u8 = 0;
pub const ALERT: u8 = 1;
pub const CRIT: u8 = 2;
pub const ERR: u8 = 3;
pub const WARNING: u8 = 4;
pub const NOTICE: u8 = 5;
pub const INFO: u8 = 6;
pub const DEBUG: u8 = 7;
/// The highest level (`trace8`).
pub const MAX: u8 = 15;

/// The group named in every line, once the configuration is read.
static GROUP: OnceLock<String> = OnceLock::new();
/// The most verbose level written.
static LEVEL: AtomicU8 = AtomicU8::new(INFO);

/// Names the daemon's group in the lines that follow.
pub fn set_group(name: &str) {
    let _ = GROUP.set(name.to_owned());
}

/// Writes lines up to `level` (`APLOG_*` numbering), dropping the others.
pub fn set_level(level: u8) {
    LEVEL.store(level.min(MAX), Ordering::Relaxed);
}

/// Whether lines at `level` are written.
pub fn enabled(level: u8) -> bool {
    level <= LEVEL.load(Ordering::Relaxed)
}

/// Apache's name for a level.
pub fn level_name(level: u8) -> &'static str {
    const NAMES: [&str; 16] = [
        "emerg", "alert", "crit", "error", "warn", "notice", "info", "debug", "trace1", "trace2",
        "trace3", "trace4", "trace5", "trace6", "trace7", "trace8",
    ];
    NAMES[usize::from(level.min(MAX))]
}

/// Writes `message` at `level`.
pub fn log(level: u8, message: &str) {
    if !enabled(level) {
        return;
    }
    let line = format_line(
        SystemTime::now(),
        level,
        std::process::id(),
        GROUP.get().map(String::as_str),
        message,
    );
    // Unbuffered: one write(2) for the whole line (stderr is a pipe or a
    // file, which take it whole).
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

pub fn error(message: &str) {
    log(ERR, message);
}

pub fn warn(message: &str) {
    log(WARNING, message);
}

pub fn notice(message: &str) {
    log(NOTICE, message);
}

pub fn info(message: &str) {
    log(INFO, message);
}

pub fn debug(message: &str) {
    log(DEBUG, message);
}

/// Apache's timestamp: `Sat Nov 21 13:44:45.195782 2026`, in local time
/// (UTC when the local time cannot be had).
fn timestamp(now: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs() as i64;
    let t = sys::local_time(secs).unwrap_or_else(|| utc(secs));
    format!(
        "{} {} {:02} {:02}:{:02}:{:02}.{:06} {}",
        DAYS[(t.weekday % 7) as usize],
        MONTHS[(t.month % 12) as usize],
        t.day,
        t.hour,
        t.minute,
        t.second,
        since.subsec_micros(),
        t.year
    )
}

/// UTC broken down, for when localtime_r fails.
fn utc(secs: i64) -> sys::LocalTime {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400) as u32;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
    sys::LocalTime {
        year,
        month: month - 1,
        day,
        weekday: (days + 4).rem_euclid(7) as u32,
        hour: rem / 3600,
        minute: rem / 60 % 60,
        second: rem % 60,
    }
}

/// One whole line, newline included.
pub fn format_line(
    now: SystemTime,
    level: u8,
    pid: u32,
    group: Option<&str>,
    message: &str,
) -> String {
    let mut line = String::with_capacity(80 + message.len());
    let _ = write!(
        line,
        "[{}] [rustgi:{}] [pid {pid}] ",
        timestamp(now),
        level_name(level)
    );
    if let Some(group) = group {
        let _ = write!(line, "group {group}: ");
    }
    for c in message.chars() {
        match c {
            '\n' => line.push_str("\\n"),
            '\r' => line.push_str("\\r"),
            '\t' => line.push('\t'),
            c if c.is_control() => {
                let _ = write!(line, "\\x{:02x}", c as u32);
            }
            c => line.push(c),
        }
    }
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn lines_look_like_apache_s() {
        let t = UNIX_EPOCH + Duration::from_micros(1_763_732_685_195_782);
        let line = format_line(t, NOTICE, 42, Some("shop"), "ready\nnext\x01");
        assert!(line.starts_with('['), "{line}");
        assert!(
            line.ends_with("] [rustgi:notice] [pid 42] group shop: ready\\nnext\\x01\n"),
            "{line}"
        );
        assert!(line.contains(".195782 2025]"), "{line}");
        assert_eq!(line.matches('\n').count(), 1);
        let line = format_line(t, 99, 1, None, "x");
        assert!(line.ends_with("[rustgi:trace8] [pid 1] x\n"), "{line}");
    }

    #[test]
    fn utc_fallback() {
        // 2025-11-21 13:44:45 UTC was a Friday.
        let t = utc(1_763_732_685);
        assert_eq!(
            (
                t.year, t.month, t.day, t.weekday, t.hour, t.minute, t.second
            ),
            (2025, 10, 21, 5, 13, 44, 45)
        );
        let t = utc(0);
        assert_eq!((t.year, t.month, t.day, t.weekday), (1970, 0, 1, 4));
        let t = utc(951_782_400); // 2000-02-29
        assert_eq!((t.year, t.month, t.day), (2000, 1, 29));
    }
}
