//! The `rustgi` library: run a real Apache httpd with mod_rustgi loaded.
//!
//! Two users share this code: the end-to-end tests of the workspace
//! (`tests/*.rs`) and the `rustgi serve` command, which, like
//! `mod_wsgi-express`, writes a standalone httpd.conf and runs Apache in the
//! foreground.
//!
//! * [`httpd_conf`] builds a complete, standalone httpd.conf.
//! * [`apache`] finds the `apache2` binary, checks configurations
//!   (`apache2 -t`) and runs a server ([`apache::Server`]) until it is stopped.
//! * [`cli`] is the `rustgi` command itself: `serve`, `setup-server`,
//!   `module-config`, `install-module`, `new` and `status`.
//! * [`python_venv`] makes the virtual environments that the tests, the
//!   chaos runs and the benchmarks install real Python frameworks into.

#![deny(unsafe_code)]

// Starting Apache and signalling it are the only libc calls here.
#[allow(unsafe_code)]
pub mod apache;
pub mod cli;
pub mod httpd_conf;
pub mod python_venv;

pub use apache::{Server, StartError, config_test, free_port};
pub use httpd_conf::{HttpdConf, Mpm};
