//! The decisions of the daemon groups' supervisor, which runs in Apache's
//! parent process: which groups a configuration defines and whether it may
//! run them, who each group's processes run as, what a new configuration
//! generation keeps of the previous one (listening sockets, restart
//! histories) and which files it writes, and what follows a process's
//! death (its restart's record, the back-off before the next one).
//!
//! Pure code over plain data: the facts come in (the configuration, what
//! exists now, the time, a death's status) and plans come out.
//! `ffi/daemon/supervisor.rs` carries them out: sockets, fork and exec,
//! files, and the registrations with APR.

pub mod configured;
pub mod generation;
pub mod identity;
pub mod restarts;
