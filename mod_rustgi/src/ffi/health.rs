//! The health check (`?health` on the status page): what only Apache
//! knows — whether it is stopping or restarting gracefully (its MPM and
//! scoreboard) and where its drain file is — joined to the groups' facts;
//! the verdict itself is [`crate::health`].

#![deny(unsafe_code)]

use std::ffi::c_int;
use std::path::PathBuf;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};

use apache_sys as sys;

use super::apache::{Mpm, Pool, Request, Server};
use super::daemon::supervisor;
use crate::health::{self, HostState};

/// The drain file's name in Apache's runtime directory (`DefaultRuntimeDir`).
pub const DRAIN_FILE_NAME: &std::ffi::CStr = c"rustgi-drain";

/// Where the drain file is; set in the parent before the children fork.
static DRAIN_FILE: RwLock<Option<PathBuf>> = RwLock::new(None);

/// Set once Apache has started: a restart is not a start.
static STARTED: AtomicBool = AtomicBool::new(false);

/// post_config: where the drain file is. When Apache starts (not on a
/// restart), a drain file left by its previous run is removed: a drain
/// lasts until Apache stops.
pub fn configure(pconf: &Pool, s: &Server) {
    let path = pconf.runtime_dir_relative(DRAIN_FILE_NAME);
    if !STARTED.swap(true, Ordering::SeqCst) && std::fs::remove_file(&path).is_ok() {
        s.log(
            sys::APLOG_NOTICE,
            &format!(
                "removed the drain file {} left by the previous run: the health check answers 200 again",
                path.display()
            ),
        );
    }
    *DRAIN_FILE.write().unwrap_or_else(|e| e.into_inner()) = Some(path);
}

/// What Apache is doing, as this child sees it.
fn host_state() -> HostState {
    if let (Some(generation), Some(running)) = (Mpm::generation(), Mpm::running_generation())
        && running != generation
    {
        return HostState::Restarting;
    }
    if Mpm::is_stopping() {
        return HostState::Stopping;
    }
    let drain = DRAIN_FILE.read().unwrap_or_else(|e| e.into_inner());
    if drain.as_ref().is_some_and(|p| p.exists()) {
        return HostState::Draining;
    }
    HostState::Running
}

/// Answers the health check: 200 or 503 with the JSON verdict.
pub fn serve(r: &Request) -> c_int {
    let verdict = health::verdict(host_state(), &supervisor::health_problems());
    r.set_status(verdict.status);
    r.set_content_type(c"application/json");
    r.headers_out().set_static(c"Cache-Control", c"no-store");
    r.write_body(verdict.body.as_bytes());
    sys::OK as c_int
}
