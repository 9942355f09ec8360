//! The host side of the rustgi ABI, shared by the Apache child (embedded
//! apps) and the daemon processes: checking app files without loading them,
//! loading and calling apps, the ABI's response rules and callbacks
//! ([`exchange`]), what a status and headers may be, and user lookups.

#![deny(unsafe_code)]

// The modules that call the ABI or libc say so; the rest is safe code.
#[allow(unsafe_code)]
pub mod app;
pub mod app_file;
pub mod exchange;
pub mod response_head;
#[allow(unsafe_code)]
pub mod users;

/// The message of a caught panic, for the log line that reports it.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}
