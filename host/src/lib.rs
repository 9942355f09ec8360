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
