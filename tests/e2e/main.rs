//! The end-to-end tests, in one test binary: one module per subject, and
//! `common` (with `cli_common`) compiled once for all of them.
//!
//! The test harness runs the tests of a binary in parallel threads (as many
//! as the machine has cores), so a test here may run beside a test of any
//! other module. Most are fit for that: each starts an Apache of its own on
//! a free port (`Server::start_on_free_port`, which tries another when the
//! bind fails), in a temporary directory of its own; what is shared
//! process-wide is guarded (the test users and the Python venv are made
//! once, behind a lock), and no test changes the environment, signal
//! dispositions or the current directory.
//!
//! The modules under `solo` are not: each loads the machine (a 1 GiB body
//! each way, 10,000 requests, half a minute of load through HAProxy to three
//! hosts, the package build), or has deadlines and figures a neighbour on
//! the same cores would skew (daemons killed or recycled under load, slow
//! clients cut off by mod_reqtimeout, daemons that must stop within seconds
//! of their Apache). So `scripts/test` runs the tests with `--skip solo::`,
//! then `solo::` with `--test-threads=1`: each solo test has the machine to
//! itself, and the other tests share it two at a time on two cores, as the
//! tests of one module always did. A plain `cargo test` runs the solo tests
//! too, beside the others. The few heavy tests outside `solo` take turns
//! (`common::daemon::heavy_lock`).

mod cli_common;
mod common;

mod bodies;
mod c_app;
mod cli_commands;
mod cli_new;
mod cli_serve;
mod cli_setup_server;
mod daemon_config;
mod daemon_faults;
mod daemon_isolation;
mod daemon_mpm;
mod directives;
mod environ;
mod failures;
mod harness;
mod mpm;
mod python_faults;
mod python_frameworks;
mod python_wsgi;
mod responses;
mod sdk_controllers;
mod sdk_simple;
mod status_page;
mod streaming;
mod vhosts;
mod zero_copy_files;

/// The tests that must have the machine to themselves (see above).
mod solo {
    mod cli_package;
    mod daemon_big;
    mod daemon_lifecycle;
    mod daemon_orphans;
    mod fd_leak;
    mod hostile;
    mod multihost;
    mod python_reload;
}
