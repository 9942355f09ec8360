//! The [`log`] backend: records go to the host's error log.
//!
//! The glue installs it at the first `init` (unless the app already installed
//! another logger) with the maximum level at `Trace`: Apache's `LogLevel`
//! decides what is kept. A record logged on a thread that is running `init`
//! or `handle` carries that call's context, so Apache files it with the
//! virtual host and request, and starts with `[req:ID] `, the request's
//! [`RequestId`](crate::extract::RequestId); other records are logged with no context.

use std::sync::Once;

use log::{Level, LevelFilter, Log, Metadata, Record};

use crate::abi;

/// The logger; it has no state of its own.
struct HostLogger;

static LOGGER: HostLogger = HostLogger;

/// Installs the logger once per process (per app library, which has its own
/// copy of `log`). Does nothing if the app installed a logger first.
pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if log::set_logger(&LOGGER).is_ok() {
            log::set_max_level(LevelFilter::Trace);
        }
    });
}

/// The host level (`abi::LOG_*`, Apache's `APLOG_*`) of a [`log`] level.
pub(crate) const fn host_level(level: Level) -> i32 {
    match level {
        Level::Error => abi::LOG_ERR,
        Level::Warn => abi::LOG_WARNING,
        Level::Info => abi::LOG_INFO,
        Level::Debug => abi::LOG_DEBUG,
        Level::Trace => abi::LOG_TRACE1,
    }
}

/// The line sent to the host: `target: message`, after `[req:ID] ` when a
/// request is being handled on this thread.
fn format_record(record: &Record<'_>) -> String {
    crate::request_id::with_current(|id| match id {
        Some(id) => format!("[req:{id}] {}: {}", record.target(), record.args()),
        None => format!("{}: {}", record.target(), record.args()),
    })
}

impl Log for HostLogger {
    fn enabled(&self, _metadata: &Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &Record<'_>) {
        crate::__glue::log_to_host(host_level(record.level()), &format_record(record));
    }

    fn flush(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_map_to_apache_levels() {
        assert_eq!(host_level(Level::Error), 3);
        assert_eq!(host_level(Level::Warn), 4);
        assert_eq!(host_level(Level::Info), 6);
        assert_eq!(host_level(Level::Debug), 7);
        assert_eq!(host_level(Level::Trace), 8);
    }

    #[test]
    fn records_are_prefixed_with_their_target() {
        let line = format_record(
            &Record::builder()
                .args(format_args!("hello {}", 1))
                .target("echo::db")
                .level(Level::Info)
                .build(),
        );
        assert_eq!(line, "echo::db: hello 1");
    }

    #[test]
    fn records_carry_the_request_id() {
        let _scope = crate::request_id::RequestIdScope::enter("abc-1");
        let line = format_record(
            &Record::builder()
                .args(format_args!("hi"))
                .target("app")
                .level(Level::Warn)
                .build(),
        );
        assert_eq!(line, "[req:abc-1] app: hi");
    }
}
