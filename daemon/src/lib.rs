//! `rustgi-daemon`: a daemon process of a mod_rustgi process group.
//!
//! mod_rustgi's Apache parent starts it (fork and exec, one per process of a
//! `RustgiDaemonProcess` group) with the group's listening UNIX socket and a
//! JSON configuration file; Apache children connect to the socket and speak
//! the protocol of [`rustgi_contract::protocol`]. `docs/protocol.md` describes the
//! command line, the configuration, the log lines and the exit codes.
//!
//! ```text
//! rustgi-daemon --config FILE --listen-fd N [--process N] [--start-delay-ms N]
//! ```
//!
//! Exit codes: 0 after a recycle or a shutdown; 1 when a thread or the
//! signal handling cannot be set up; 2 for a bad command line or
//! configuration, or a failed switch of user, directory or limits; 3 when an
//! app fails to load or initialise, or loading takes longer than
//! startup_timeout. (An app that kills the process leaves whatever code or
//! signal it died with.)

#![deny(unsafe_code)]

mod acceptance;
mod apps;
mod belonging;
pub mod config;
#[allow(unsafe_code)]
pub mod log;
mod request;
mod server;
mod setup;
#[allow(unsafe_code)]
mod sys;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use config::{Args, Config, USAGE};
use rustgi_contract::status_file as status;

/// Exit code for a bad command line, configuration or process setup.
pub const EXIT_CONFIG: i32 = 2;
/// Exit code for an app that cannot be loaded or initialised in time.
pub const EXIT_APP: i32 = 3;

/// What a process that cannot start leaves in its status file: the parent
/// reads it when the process has exited, names the cause in its log line
/// and on the status page, and answers the group's requests with 503 at
/// once until a process serves.
#[derive(Clone)]
struct FailedStart {
    dir: Option<std::path::PathBuf>,
    user: String,
    threads: usize,
}

impl FailedStart {
    fn new(config: &Config, identity: &setup::Identity) -> FailedStart {
        FailedStart {
            dir: config.status_dir.clone(),
            user: identity.user.clone(),
            threads: config.threads,
        }
    }

    fn report(&self, why: String) {
        let Some(dir) = &self.dir else { return };
        let started_unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        status::write(
            dir,
            &status::ProcessStatus {
                pid: std::process::id(),
                user: self.user.clone(),
                started_unix,
                threads: self.threads,
                requests: 0,
                in_flight: 0,
                rss_bytes: 0,
                state: status::FAILED,
                reason: Some(why),
                apps: Vec::new(),
                last_done_unix: started_unix,
                queue_timeouts: 0,
                last_queue_timeout_unix: None,
            },
        );
    }
}

/// Runs the daemon with the process's arguments; the exit code.
pub fn main() -> i32 {
    std::panic::set_hook(Box::new(|info| {
        log::log(log::CRIT, &format!("panic: {info}"));
    }));
    let args = match Args::parse(std::env::args_os().skip(1)) {
        Ok(args) => args,
        Err(e) => {
            log::error(&format!("{e}; {USAGE}"));
            return EXIT_CONFIG;
        }
    };
    // Nothing but the socket and the log (stdin, stdout, stderr) is kept.
    sys::close_inherited_fds(args.listen_fd);
    let config = match Config::read(&args.config) {
        Ok(config) => config,
        Err(e) => {
            log::error(&format!("bad configuration: {e}"));
            return EXIT_CONFIG;
        }
    };
    log::set_group(&config.group);
    log::set_level(config.log_level);
    let listener = match sys::listener_from_fd(args.listen_fd) {
        Ok(listener) => listener,
        Err(e) => {
            log::error(&format!("--listen-fd {}: {e}", args.listen_fd));
            return EXIT_CONFIG;
        }
    };
    let belonging = belonging::Belonging::now(&listener);
    let identity = match setup::prepare(&config) {
        Ok(identity) => identity,
        Err(e) => {
            log::error(&format!("cannot set the process up: {e}"));
            return EXIT_CONFIG;
        }
    };
    if sys::geteuid() == 0 {
        log::warn("running the apps as root: give the process group a user");
    }
    if args.start_delay_ms > 0 {
        std::thread::sleep(Duration::from_millis(args.start_delay_ms));
    }

    let loaded = Arc::new(AtomicBool::new(false));
    let failed = FailedStart::new(&config, &identity);
    if config.startup_timeout > 0 {
        let loaded = Arc::clone(&loaded);
        let limit = config.startup_timeout;
        let failed = failed.clone();
        let watchdog = std::thread::Builder::new()
            .name("rustgi-startup".into())
            .spawn(move || {
                std::thread::sleep(Duration::from_secs(limit));
                if !loaded.load(Ordering::SeqCst) {
                    let why = format!("startup-timeout: the apps did not load within {limit} s");
                    log::error(&why);
                    failed.report(why);
                    sys::exit_now(EXIT_APP);
                }
            });
        if let Err(e) = watchdog {
            log::error(&format!("cannot start a thread: {e}"));
            return 1;
        }
    }
    // A deploy under way must not fail a process that starts meanwhile:
    // wait for usable files, within startup-timeout (or 15 s when off).
    let limit = match config.startup_timeout {
        0 => Duration::from_secs(15),
        // Leave the load a moment before the watchdog.
        seconds => Duration::from_secs(seconds).mul_f64(0.8),
    };
    apps::wait_for_usable_files(&config.apps, limit);
    let apps = apps::Apps::new(&config.apps);
    if let Err(why) = apps.load_configured(&config.apps) {
        // The app's error was logged as it happened.
        log::error("cannot start: an app could not be loaded; exiting");
        failed.report(why);
        return EXIT_APP;
    }
    loaded.store(true, Ordering::SeqCst);

    server::run(config, &identity, listener, belonging, apps, args.process)
}
