//! What the MPM says about itself.

use std::ffi::c_int;

use apache_sys as sys;

/// Queries to the running MPM (`ap_mpm_query`).
pub struct Mpm;

impl Mpm {
    fn query(code: u32) -> Option<c_int> {
        let mut value: c_int = 0;
        // SAFETY: ap_mpm_query writes one int through a valid pointer.
        let rc = unsafe { sys::ap_mpm_query(code as c_int, &mut value) };
        (rc == sys::APR_SUCCESS as c_int).then_some(value)
    }

    /// Whether the MPM runs requests on threads (worker, event).
    pub fn is_threaded() -> bool {
        Self::query(sys::AP_MPMQ_IS_THREADED)
            .is_some_and(|v| v != sys::AP_MPMQ_NOT_SUPPORTED as c_int)
    }

    /// Whether Apache is stopping.
    pub fn is_stopping() -> bool {
        Self::query(sys::AP_MPMQ_MPM_STATE) == Some(sys::AP_MPMQ_STOPPING as c_int)
    }

    /// The generation this child belongs to.
    pub fn generation() -> Option<c_int> {
        Self::query(sys::AP_MPMQ_GENERATION)
    }

    /// The generation the parent runs now (from the scoreboard), when known:
    /// it differs from [`generation`](Self::generation) once a graceful
    /// restart began.
    pub fn running_generation() -> Option<c_int> {
        // SAFETY: the shim only reads the scoreboard, which may be absent
        // (then it answers -1).
        let running = unsafe { sys::rustgi_shim_running_generation() };
        (running >= 0).then_some(running)
    }
}
