//! The health check (`?health` on the status page): what only Apache
//! knows — whether it is stopping or restarting gracefully (its MPM and
//! scoreboard) and where its drain file is — joined to the groups' facts;
//! the verdict itself is [`crate::health`].

use std::ffi::c_int;
use std::path::PathBuf;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};

use apache_sys as sys;

use super::daemon::supervisor;
use super::{c_bytes, log};
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
pub fn configure(pconf: *mut sys::apr_pool_t, s: *mut sys::server_rec) {
    // SAFETY: pconf is the live configuration pool; the function returns a
    // NUL-terminated string in it (or NULL), copied at once.
    let path = unsafe {
        let p = sys::ap_runtime_dir_relative(pconf, DRAIN_FILE_NAME.as_ptr());
        PathBuf::from(String::from_utf8_lossy(c_bytes(p)).into_owned())
    };
    if !STARTED.swap(true, Ordering::SeqCst) && std::fs::remove_file(&path).is_ok() {
        log::server(
            s,
            sys::APLOG_NOTICE as i32,
            0,
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
    let mut state: c_int = 0;
    let mut generation: c_int = 0;
    // SAFETY: ap_mpm_query writes one int through a valid pointer;
    // rustgi_shim_running_generation only reads the scoreboard.
    let (state_known, generation_known, running) = unsafe {
        (
            sys::ap_mpm_query(sys::AP_MPMQ_MPM_STATE as c_int, &mut state) == 0,
            sys::ap_mpm_query(sys::AP_MPMQ_GENERATION as c_int, &mut generation) == 0,
            sys::rustgi_shim_running_generation(),
        )
    };
    if generation_known && running >= 0 && running != generation {
        return HostState::Restarting;
    }
    if state_known && state == sys::AP_MPMQ_STOPPING as c_int {
        return HostState::Stopping;
    }
    let drain = DRAIN_FILE.read().unwrap_or_else(|e| e.into_inner());
    if drain.as_ref().is_some_and(|p| p.exists()) {
        return HostState::Draining;
    }
    HostState::Running
}

/// Answers the health check: 200 or 503 with the JSON verdict.
///
/// # Safety
/// `r` is a live request handled by this thread.
pub unsafe fn serve(r: *mut sys::request_rec) -> c_int {
    let verdict = health::verdict(host_state(), &supervisor::health_problems());
    // SAFETY: r is live (caller); the strings are static or copied by
    // ap_rwrite.
    unsafe {
        (*r).status = c_int::from(verdict.status);
        sys::ap_set_content_type(r, c"application/json".as_ptr());
        sys::apr_table_setn(
            (*r).headers_out,
            c"Cache-Control".as_ptr(),
            c"no-store".as_ptr(),
        );
        if (*r).header_only == 0 {
            sys::ap_rwrite(verdict.body.as_ptr().cast(), verdict.body.len() as c_int, r);
        }
    }
    sys::OK as c_int
}
