//! The host side of the rustgi ABI that does not need Apache: the pairs
//! arena the ABI hands to apps, checking app files without loading them,
//! loading and calling apps, the protocol
//! between Apache children and daemon processes with the way its frames are
//! waited for, and the daemon itself (the `rustgi-daemon` executable).

#![deny(unsafe_code)]

// The modules that call the ABI or libc say so; the rest is safe code.
#[allow(unsafe_code)]
pub mod app;
pub mod app_file;
pub mod daemon;
pub mod daemon_config;
pub mod exchange;
#[allow(unsafe_code)]
pub mod incoming;
#[allow(unsafe_code)]
pub mod pairs;
#[allow(unsafe_code)]
pub mod passed_fds;
pub mod protocol;
pub mod response_head;
#[allow(unsafe_code)]
pub mod users;
