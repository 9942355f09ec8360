//! `rustgi-chaos`: reliability runs against a real Apache with mod_rustgi,
//! whose figures go into RELIABILITY.md.
//!
//! * [`chaos`]: load held against a daemon group while its processes are
//!   killed, crashed, timed out, recycled, restarted and redeployed; every
//!   failed request must be explained by a fault, no body may be corrupted
//!   and no Apache child may crash.
//! * [`hostile`]: malformed, oversized, slow and smuggling requests over
//!   raw TCP, each of which must get a 4xx or a clean close, never a 5xx,
//!   and app-level ones (forms, JSON, session cookies) against
//!   `examples/simple`, each of which must get the answer app-sdk documents,
//!   and to a PoorWSGI app in a Python group, each of which must get
//!   PoorWSGI's answer (shared with `tests/e2e/solo/hostile.rs`);
//!   [`hostile_run`] runs them for the report.
//!
//! The workspace's end-to-end tests use this crate as a dev-dependency for
//! the hostile cases.

#![deny(unsafe_code)]

pub mod chaos;
pub mod hostile;
pub mod hostile_run;
pub mod logs;
// Signals and process facts from libc.
#[allow(unsafe_code)]
pub mod procfs;
pub mod report;
pub mod site;
pub mod wire;
