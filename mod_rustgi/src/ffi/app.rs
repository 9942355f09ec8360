//! The app instances of an Apache child: one per script alias and virtual
//! host, loaded on first use.

#![deny(unsafe_code)]

use std::path::Path;
use std::sync::OnceLock;

use rustgi_contract::pairs::Pairs;
use rustgi_host::app::AppInstance;
use rustgi_host::exchange::callbacks;

use super::apache::Server;
use super::request::ApacheResponse;
use crate::config::AppConfig;

/// Where the app instance of one script alias (in one virtual host) lives
/// once the first request needed it. Each process loads its own: the Apache
/// parent never runs app code.
#[derive(Default)]
pub struct AppSlot {
    instance: OnceLock<Result<AppInstance, String>>,
}

impl std::fmt::Debug for AppSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AppSlot")
    }
}

impl AppSlot {
    /// The instance, loading and initialising it on first use; the error of a
    /// failed load is kept, so a broken app is not reloaded per request.
    pub fn get_or_load(
        &self,
        file: &Path,
        config: &AppConfig,
        server: &Server,
    ) -> Result<&AppInstance, &str> {
        self.instance
            .get_or_init(|| {
                callbacks::load_app::<ApacheResponse>(file, &config_pairs(config), server)
            })
            .as_ref()
            .map_err(String::as_str)
    }

    /// The instance, if this process loaded it.
    pub fn loaded(&self) -> Option<&AppInstance> {
        self.instance.get().and_then(|r| r.as_ref().ok())
    }
}

/// The configuration as NUL-terminated pairs for the ABI.
pub fn config_pairs(config: &AppConfig) -> Pairs {
    config.pairs().iter().map(|(k, v)| (k, v)).collect()
}
