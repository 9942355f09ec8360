//! The host side of the rustgi ABI that does not need Apache: the pairs
//! arena the ABI hands to apps, and loading and calling apps. mod_rustgi uses
//! it inside Apache's children; the daemon processes use it on their own.

pub mod app;
pub mod pairs;
