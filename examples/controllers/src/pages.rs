//! [`PagesController`]: static pages from the config file.

use std::collections::HashMap;

use app_sdk::extract::Path;
use app_sdk::router::Controller;
use app_sdk::{Config, HttpError, Router};

/// Serves the pages of the `[pages]` table of the config file (the
/// `pages.NAME` values) at `/pages/NAME`.
#[derive(Debug)]
pub struct PagesController {
    pages: HashMap<String, String>,
}

impl PagesController {
    /// Collects the `pages.NAME` values.
    pub fn new(config: &Config) -> PagesController {
        let pages = config
            .iter()
            .filter_map(|(name, text)| {
                let page = name.strip_prefix("pages.")?;
                Some((page.to_owned(), text.to_owned()))
            })
            .collect();
        PagesController { pages }
    }

    /// `GET /pages/<name:word>`.
    fn page(&self, Path(name): Path<String>) -> Result<String, HttpError> {
        self.pages
            .get(&name)
            .cloned()
            .ok_or_else(|| HttpError::not_found().with_detail(format!("no page {name:?}")))
    }
}

impl Controller for PagesController {
    fn routes(router: Router<Self>) -> Router<Self> {
        router.get("/pages/<name:word>", Self::page)
    }
}
