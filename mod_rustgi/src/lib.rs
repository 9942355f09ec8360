//! mod_rustgi: an Apache httpd 2.4 module that serves apps built as shared
//! libraries against the rustgi ABI (`abi/include/rustgi.h`), and Python
//! WSGI scripts through its Python bridge, an app on the same ABI.
//!
//! The pure parts (directive parsing, URL matching, the environ, response
//! checks, app file inspection, the daemon supervisor's decisions) are
//! ordinary modules with unit tests; `ffi` is the thin layer that Apache
//! calls, and the only one with `unsafe`.

#![deny(unsafe_code)]

pub mod access;
pub mod alias;
pub mod availability;
/// Checking an app file without loading it (shared with the daemon).
pub use rustgi_host::app_file;
pub mod child_response;
pub mod config;
pub mod daemon_client;
pub mod daemon_link;
pub mod daemon_plan;
pub mod daemon_spec;
pub mod daemon_wait;
pub mod directive_error;
pub mod environ;
pub mod health;
pub mod leftovers;
pub mod sock_diag;
pub mod status;
pub mod supervision;
pub mod users;
pub mod wsgi_script;

// The FFI layer references httpd's symbols, which only exist inside Apache:
// unit-test binaries and fuzz targets are built without it.
// Every `unsafe` of the module lives there; the rest is safe code.
#[cfg(all(feature = "apache", not(test)))]
#[allow(unsafe_code)]
mod ffi;
