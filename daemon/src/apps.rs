//! The apps a daemon process serves: one instance per (file, init
//! configuration), the configured ones loaded at startup, others for an
//! allowed file loaded once on first use.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use crate::config::AppSpec;
use crate::log;
use crate::request::Conversation;
use crate::setup::FileStamp;
use rustgi_contract::pairs::Pairs;
use rustgi_host::app::AppInstance;
use rustgi_host::app_file::check;
use rustgi_host::exchange::callbacks;

type Key = (Vec<u8>, Vec<(Vec<u8>, Vec<u8>)>);
type Slot = Arc<OnceLock<Result<Arc<AppInstance>, String>>>;

struct Allowed {
    file: PathBuf,
    /// The file as it was before it was loaded.
    stamp: Option<FileStamp>,
    /// Loaded at start: one of the group's own apps.
    preload: bool,
    /// The last changed version that could not be used, or that was
    /// missing, so it is logged once.
    reported: Mutex<Option<Option<FileStamp>>>,
}

/// A file whose change recycles the process, beside its app file (a WSGI
/// script: `touch` is enough, as with mod_wsgi).
struct Watched {
    file: PathBuf,
    stamp: Option<FileStamp>,
    /// The missing version, so it is logged once.
    reported: Mutex<Option<Option<FileStamp>>>,
}

pub struct Apps {
    allowed: Vec<Allowed>,
    watched: Vec<Watched>,
    instances: Mutex<HashMap<Key, Slot>>,
}

fn key(file: &[u8], init_config: &Pairs) -> Key {
    (
        file.to_vec(),
        init_config
            .iter()
            .map(|(n, v)| (n.to_vec(), v.to_vec()))
            .collect(),
    )
}

/// Waits, up to `limit`, until every app file to preload passes the check
/// `apache2 -t` makes: a process that starts while a deploy is under way
/// (the file missing for a moment, half copied, or not an app yet) loads the
/// next usable file instead of failing. A file still unusable at `limit` is
/// left to the load, whose error then says why.
pub fn wait_for_usable_files(specs: &[AppSpec], limit: std::time::Duration) {
    let deadline = std::time::Instant::now() + limit;
    for spec in specs.iter().filter(|s| s.preload) {
        let mut waited = false;
        loop {
            match check(&spec.file) {
                Ok(()) => break,
                Err(e) if std::time::Instant::now() < deadline => {
                    if !waited {
                        log::warn(&format!(
                            "app file {} cannot be used now ({e}); waiting for a usable one",
                            spec.file.display()
                        ));
                        waited = true;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                Err(_) => break,
            }
        }
        if waited {
            log::notice(&format!("app file {} is usable again", spec.file.display()));
        }
    }
}

impl Apps {
    /// The apps of the configuration, none loaded yet.
    pub fn new(specs: &[AppSpec]) -> Apps {
        let mut allowed: Vec<Allowed> = Vec::new();
        for spec in specs {
            match allowed.iter_mut().find(|a| a.file == spec.file) {
                Some(known) => known.preload |= spec.preload,
                None => allowed.push(Allowed {
                    file: spec.file.clone(),
                    stamp: FileStamp::of(&spec.file),
                    preload: spec.preload,
                    reported: Mutex::new(None),
                }),
            }
        }
        let mut watched: Vec<Watched> = Vec::new();
        for file in specs.iter().filter(|s| s.preload).flat_map(|s| &s.watch) {
            if !watched.iter().any(|w| w.file == *file) {
                watched.push(Watched {
                    file: file.clone(),
                    stamp: FileStamp::of(file),
                    reported: Mutex::new(None),
                });
            }
        }
        Apps {
            allowed,
            watched,
            instances: Mutex::new(HashMap::new()),
        }
    }

    /// Loads and initialises every configured app marked for preloading; the
    /// first failure is the error.
    ///
    /// A file replaced while it was being loaded (a deploy racing the
    /// start) is loaded again, once it is usable: a load that failed on a
    /// file that changed meanwhile, or that no longer passes the check, is
    /// the deploy's, not the app's.
    pub fn load_configured(&self, specs: &[AppSpec]) -> Result<(), String> {
        for spec in specs.iter().filter(|s| s.preload) {
            let config: Pairs = spec.init_config.iter().map(|(k, v)| (k, v)).collect();
            let file = spec.file.as_os_str().as_bytes();
            let mut attempts = 0;
            loop {
                let before = FileStamp::of(&spec.file);
                match self.instance(file, &config) {
                    Ok(_) => break,
                    // The file, not the app, failed: it changed under the
                    // load, or is unusable now.
                    Err(_)
                        if attempts < 3
                            && (FileStamp::of(&spec.file) != before
                                || check(&spec.file).is_err()) =>
                    {
                        attempts += 1;
                        log::notice(&format!(
                            "app file {} changed while it was loaded; loading it again",
                            spec.file.display()
                        ));
                        self.forget(file, &config);
                        wait_for_usable_files(
                            std::slice::from_ref(spec),
                            std::time::Duration::from_secs(5),
                        );
                    }
                    Err(e) => return Err(format!("app {}: {e}", spec.file.display())),
                }
            }
            log::info(&format!("loaded app {}", spec.file.display()));
        }
        Ok(())
    }

    /// Drops what loading `file` with `init_config` came to, so that the
    /// next use loads it again.
    fn forget(&self, file: &[u8], init_config: &Pairs) {
        self.instances
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key(file, init_config));
    }

    /// Whether the group serves the app at `file`.
    pub fn is_allowed(&self, file: &[u8]) -> bool {
        self.allowed
            .iter()
            .any(|a| a.file.as_os_str().as_bytes() == file)
    }

    /// The instance for `file` with `init_config`, loading it on first use
    /// (once: a failure is remembered). `file` must be allowed.
    pub fn instance(&self, file: &[u8], init_config: &Pairs) -> Result<Arc<AppInstance>, String> {
        if !self.is_allowed(file) {
            return Err("this process group does not serve it".into());
        }
        let slot: Slot = {
            let mut map = self
                .instances
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            Arc::clone(map.entry(key(file, init_config)).or_default())
        };
        slot.get_or_init(|| {
            let path = Path::new(OsStr::from_bytes(file));
            let loaded = callbacks::load_app::<Conversation>(path, init_config, ()).map(Arc::new);
            if let Err(e) = &loaded {
                log::error(&format!("app {}: {e}", path.display()));
            }
            loaded
        })
        .clone()
    }

    /// Whether this process loaded (or tried to load) the app at `file`.
    fn loaded(&self, file: &Path) -> bool {
        let file = file.as_os_str().as_bytes();
        self.instances
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .any(|(f, _)| f == file)
    }

    /// An app file of this process's that was replaced or modified since
    /// startup and can be used: the process should recycle to load it.
    ///
    /// Only the group's own apps and those it loaded count, so deploying
    /// one app restarts only the groups that serve it. A changed file that
    /// fails the check `apache2 -t` makes (a half-copied file, something
    /// that is not an app) is refused with a log line, and a missing one
    /// waited for: the processes keep serving the version they loaded.
    pub fn reloadable_change(&self) -> Option<&Path> {
        for a in &self.allowed {
            let now = FileStamp::of(&a.file);
            if now == a.stamp || !(a.preload || self.loaded(&a.file)) {
                continue;
            }
            let refusal = match &now {
                None => Some(format!(
                    "app file {} is missing; serving the version loaded until it is back",
                    a.file.display()
                )),
                Some(_) => check(&a.file).err().map(|e| {
                    format!(
                        "app file {} changed but cannot be used: {e}; serving the version \
                         loaded until a usable one replaces it",
                        a.file.display()
                    )
                }),
            };
            let Some(refusal) = refusal else {
                return Some(a.file.as_path());
            };
            let mut reported = a.reported.lock().unwrap_or_else(PoisonError::into_inner);
            if reported.as_ref() != Some(&now) {
                log::error(&refusal);
                *reported = Some(now);
            }
        }
        for w in &self.watched {
            let now = FileStamp::of(&w.file);
            if now == w.stamp {
                continue;
            }
            if now.is_some() {
                return Some(w.file.as_path());
            }
            let mut reported = w.reported.lock().unwrap_or_else(PoisonError::into_inner);
            if reported.as_ref() != Some(&now) {
                log::error(&format!(
                    "script {} is missing; serving the version loaded until it is back",
                    w.file.display()
                ));
                *reported = Some(now);
            }
        }
        None
    }

    /// What each loaded instance says about itself, for the status page.
    pub fn statuses(&self) -> Vec<rustgi_contract::status_file::AppStatus> {
        let loaded: Vec<(Vec<u8>, Slot)> = self
            .instances
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|((file, _), slot)| (file.clone(), Arc::clone(slot)))
            .collect();
        loaded
            .into_iter()
            .filter_map(|(file, slot)| {
                let instance = slot.get()?.as_ref().ok()?;
                let status = serde_json::from_str::<serde_json::Value>(&instance.status()?).ok()?;
                status
                    .is_object()
                    .then(|| rustgi_contract::status_file::AppStatus {
                        file: String::from_utf8_lossy(&file).into_owned(),
                        status,
                    })
            })
            .collect()
    }

    /// Calls the shutdown of every instance that loaded; only when no
    /// request is running.
    pub fn shutdown_all(&self) {
        let slots: Vec<Slot> = self
            .instances
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect();
        for slot in slots {
            if let Some(Ok(instance)) = slot.get() {
                instance.shutdown();
            }
        }
    }
}
