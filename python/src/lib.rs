//! The Python bridge of mod_rustgi: an app on the rustgi ABI that embeds
//! CPython and runs WSGI scripts unchanged.
//!
//! mod_rustgi maps a `.py` or `.wsgi` script to this library and passes the
//! script, its callable and the Python settings as the app's configuration
//! (`rustgi_abi::python`). Each script is one app instance; all of a
//! process's scripts share its one interpreter, started by the first
//! instance in the process that serves them (never in Apache's parent).
//!
//! This file is the ABI edge: the exported symbols and the `extern "C"`
//! entry points, which let no panic and no Python exception out.

mod app;
mod bootstrap;
mod cpython;
mod environ;
mod host;
mod input;
mod logging;
mod response;
mod script;
mod settings;

use std::ffi::{c_char, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};

use rustgi_abi::{self as abi, RustgiApp, RustgiInit, RustgiPair, RustgiRequest};

use crate::app::WsgiApp;
use crate::settings::Settings;

/// The rustgi ABI version this bridge speaks.
#[unsafe(no_mangle)]
#[allow(non_upper_case_globals)]
pub static rustgi_abi_version: u32 = abi::ABI_VERSION;

/// The `major.minor` of the Python the bridge embeds, NUL-terminated
/// (`rustgi_abi::python::VERSION_SYMBOL`).
#[unsafe(no_mangle)]
#[allow(non_upper_case_globals)]
pub static rustgi_python_version: [u8; 16] = padded(cpython::BUILT_FOR);

const fn padded(text: &str) -> [u8; 16] {
    let bytes = text.as_bytes();
    let mut out = [0u8; 16];
    let mut i = 0;
    while i < bytes.len() && i < out.len() - 1 {
        out[i] = bytes[i];
        i += 1;
    }
    out
}

struct Descriptor(RustgiApp);

// SAFETY: the descriptor is immutable; its name points to a static string.
unsafe impl Sync for Descriptor {}

static DESCRIPTOR: Descriptor = Descriptor(RustgiApp {
    struct_size: size_of::<RustgiApp>() as u32,
    abi_version: abi::ABI_VERSION,
    name: c"rustgi-python".as_ptr(),
    init: Some(init),
    handle: Some(handle),
    shutdown: Some(shutdown),
    status: Some(status),
});

/// Returns the bridge's descriptor.
#[unsafe(no_mangle)]
pub extern "C" fn rustgi_app_entry() -> *const RustgiApp {
    &DESCRIPTOR.0
}

/// Instances alive in this process: the last one to shut down runs the
/// apps' `atexit` functions.
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// The pairs at `ptr`, as byte slices.
///
/// # Safety
/// `ptr` points to `len` pairs whose strings stay valid while the result
/// is used (the ABI's guarantee during the call that received them).
unsafe fn pairs<'a>(
    ptr: *const RustgiPair,
    len: usize,
) -> impl Iterator<Item = (&'a [u8], &'a [u8])> {
    let pairs: &'a [RustgiPair] = if ptr.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: as the caller promises.
        unsafe { std::slice::from_raw_parts(ptr, len) }
    };
    // SAFETY: as the caller promises, for each string.
    pairs
        .iter()
        .map(|p| unsafe { (p.name.as_bytes(), p.value.as_bytes()) })
}

/// Writes `message` into init's error buffer, truncated and NUL-terminated.
fn write_error(init: &RustgiInit, message: &str) {
    if init.error.is_null() || init.error_cap == 0 {
        return;
    }
    let n = message.len().min(init.error_cap - 1);
    // SAFETY: the host gave error_cap writable bytes at error.
    unsafe {
        std::ptr::copy_nonoverlapping(message.as_ptr(), init.error.cast::<u8>(), n);
        *init.error.add(n) = 0 as c_char;
    }
}

unsafe extern "C" fn init(init: *const RustgiInit, instance: *mut *mut c_void) -> i32 {
    if init.is_null() || instance.is_null() {
        return abi::ERROR;
    }
    // SAFETY: the host passes a valid init struct; only its version 1
    // fields are read after checking its size.
    let init = unsafe { &*init };
    if (init.struct_size as usize) < size_of::<RustgiInit>() || init.api.is_null() {
        return abi::ERROR;
    }
    host::set_process_api(init.api);
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: config is valid during init.
        let settings = Settings::from_pairs(unsafe { pairs(init.config, init.config_len) })?;
        WsgiApp::new(settings)
    }));
    match outcome {
        Ok(Ok(app)) => {
            LIVE.fetch_add(1, Ordering::SeqCst);
            // SAFETY: instance is a valid out-pointer (checked non-NULL).
            unsafe { *instance = Box::into_raw(Box::new(app)).cast() };
            abi::OK
        }
        Ok(Err(message)) => {
            write_error(init, &message);
            abi::ERROR
        }
        Err(_) => {
            write_error(init, "the Python bridge panicked while starting");
            abi::ERROR
        }
    }
}

unsafe extern "C" fn handle(instance: *mut c_void, request: *const RustgiRequest) -> i32 {
    if instance.is_null() || request.is_null() {
        return abi::ERROR;
    }
    // SAFETY: instance came from init's Box<WsgiApp>; handle may run on
    // many threads at once, and WsgiApp is Sync. The request is valid
    // until this call returns.
    let (app, request) = unsafe { (&*instance.cast::<WsgiApp>(), &*request) };
    if (request.struct_size as usize) < size_of::<RustgiRequest>() || request.api.is_null() {
        return abi::ERROR;
    }
    catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the environ is valid until this call returns.
        let variables = unsafe { pairs(request.environ, request.environ_len) };
        app.handle(request, variables)
    }))
    .unwrap_or_else(|_| {
        host::process_log(
            abi::LOG_CRIT,
            "the Python bridge panicked serving a request",
        );
        abi::ERROR
    })
}

unsafe extern "C" fn status(instance: *mut c_void, buf: *mut c_char, cap: usize) -> usize {
    if instance.is_null() {
        return 0;
    }
    // SAFETY: instance came from init's Box<WsgiApp>, alive until shutdown
    // (the host calls status only before); status_json needs no GIL.
    let app = unsafe { &*instance.cast::<WsgiApp>() };
    let Ok(text) = catch_unwind(AssertUnwindSafe(|| app.status_json())) else {
        return 0;
    };
    if !buf.is_null() && cap > 0 {
        let n = text.len().min(cap - 1);
        // SAFETY: the host gave cap writable bytes at buf.
        unsafe {
            std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), n);
            *buf.add(n) = 0;
        }
    }
    text.len()
}

unsafe extern "C" fn shutdown(instance: *mut c_void) {
    if instance.is_null() {
        return;
    }
    // SAFETY: instance came from init's Box<WsgiApp>, and the host calls
    // shutdown once, after every handle on it returned.
    let app = unsafe { Box::from_raw(instance.cast::<WsgiApp>()) };
    let _ = catch_unwind(AssertUnwindSafe(move || {
        let last = LIVE.fetch_sub(1, Ordering::SeqCst) == 1;
        pyo3::Python::attach(|py| {
            drop(app);
            if last && let Err(e) = bootstrap::run_exit_functions(py) {
                host::process_log(
                    abi::LOG_ERR,
                    &format!(
                        "an atexit function failed: {}",
                        bootstrap::traceback(py, &e)
                    ),
                );
            }
        });
        if last {
            host::end_process_api();
        }
    }));
}
