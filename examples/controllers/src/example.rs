//! [`ExampleController`]: the controller of 15Watt's README.

use std::sync::atomic::{AtomicU64, Ordering};

use app_sdk::extract::Path;
use app_sdk::router::Controller;
use app_sdk::{Config, InitError, Router};

/// The example controller of 15Watt's README, with the configuration it
/// needs read once, typed, when the app starts.
#[derive(Debug)]
pub struct ExampleController {
    greeting: String,
    key1: String,
    conf_var2: i64,
    hits: AtomicU64,
}

impl ExampleController {
    /// Reads `greeting` (default `Hello World`), `key1` and `confVar2` (an
    /// integer, required).
    pub fn new(config: &Config) -> Result<ExampleController, InitError> {
        Ok(ExampleController {
            greeting: config.get("greeting").unwrap_or("Hello World").to_owned(),
            key1: config.get("key1").unwrap_or_default().to_owned(),
            conf_var2: config.require_parsed("confVar2")?,
            hits: AtomicU64::new(0),
        })
    }

    /// `GET /`: the greeting (15Watt's `getAction`).
    fn index(&self) -> String {
        self.hit();
        self.greeting.clone()
    }

    /// `GET /with/params/<id:int>/<what>` (15Watt's `withParamsAction`).
    fn with_params(&self, Path((id, what)): Path<(i64, String)>) -> String {
        self.hit();
        log::info!("with_params id={id} what={what:?}");
        format!("{}, id = {id} what = \"{what}\"", self.greeting)
    }

    /// `GET /conf`: the typed configuration values.
    fn conf(&self) -> String {
        self.hit();
        format!("key1 = {}, confVar2 = {}", self.key1, self.conf_var2)
    }

    /// `GET /hits`: how many requests this controller served in this
    /// process, this one included.
    fn hits(&self) -> String {
        self.hit().to_string()
    }

    fn hit(&self) -> u64 {
        self.hits.fetch_add(1, Ordering::Relaxed) + 1
    }
}

impl Controller for ExampleController {
    fn routes(router: Router<Self>) -> Router<Self> {
        router
            .get("/", Self::index)
            .get("/with/params/<id:int>/<what>", Self::with_params)
            .get("/conf", Self::conf)
            .get("/hits", Self::hits)
    }
}
