//! Daemon mode: process groups that run apps in processes of their own,
//! under their own user, fed by Apache's children over a UNIX socket.

mod queue;
mod spawn;
pub mod supervisor;
mod wakeup;
