//! What the two sides of daemon mode agree on: the Apache side (the
//! parent that starts daemons, the children that send them requests) and
//! the `rustgi-daemon` processes.
//!
//! * [`protocol`]: the frames on a group's socket, with their limits;
//! * [`passed_fds`]: a file's descriptor passed with a FILE frame;
//! * [`incoming`]: the child's reader of a daemon's frames;
//! * [`pairs`]: the (name, value) arena the requests carry;
//! * [`daemon_config`]: what the parent tells a daemon at start;
//! * [`status_file`]: what a daemon tells the status page.

#![deny(unsafe_code)]

pub mod daemon_config;
#[allow(unsafe_code)]
pub mod incoming;
#[allow(unsafe_code)]
pub mod pairs;
#[allow(unsafe_code)]
pub mod passed_fds;
pub mod protocol;
pub mod status_file;
