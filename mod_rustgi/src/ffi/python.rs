//! The Python bridge as the module finds it: beside the module itself, with
//! the version of the Python it embeds read from its file (no Python runs
//! in Apache's parent), and where a WSGI script's app is loaded from.

#![deny(unsafe_code)]

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use rustgi_abi::python::VERSION_SYMBOL;

use super::daemon::supervisor::module_dir;
use crate::app_file;
use crate::config::{AppConfig, ScriptAliasSpec};
use crate::wsgi_script::{self, PythonPlace};

/// The bridge that serves WSGI scripts, as checked.
pub struct Bridge {
    /// The `major.minor` of its Python.
    pub python_version: String,
}

/// A file's identity and version, to know when a check must be redone.
type Stamp = (u64, u64, u64, i64, i64);

/// A bridge file as checked: its version, and the check's outcome (the
/// Python version it embeds, or why it cannot be used).
type Checked = (PathBuf, Stamp, Result<String, String>);

fn stamp(path: &Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some((m.dev(), m.ino(), m.len(), m.mtime(), m.mtime_nsec()))
}

/// Finds and checks the bridge. The check reads the whole file, so its
/// outcome is kept for as long as the file stays the same (a configuration
/// may name many scripts, and the module outlives restarts, across which
/// the bridge may be installed or replaced).
pub fn bridge() -> Result<Bridge, String> {
    static CHECKED: Mutex<Option<Checked>> = Mutex::new(None);
    let dir = module_dir().ok_or("cannot tell where mod_rustgi was loaded from")?;
    let path = wsgi_script::find_bridge(&dir).ok_or_else(|| {
        format!(
            "the Python bridge is missing: install rustgi-python.so beside mod_rustgi in {} \
             to serve WSGI scripts",
            dir.display()
        )
    })?;
    let now = stamp(&path);
    let mut checked = CHECKED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((p, s, outcome)) = checked.as_ref()
        && *p == path
        && Some(*s) == now
    {
        return outcome
            .clone()
            .map(|python_version| Bridge { python_version });
    }
    let outcome = app_file::check(&path)
        .and_then(|()| app_file::exported_text(&path, VERSION_SYMBOL.to_str().unwrap_or("")))
        .map_err(|e| format!("the Python bridge {}: {e}", path.display()));
    if let Some(now) = now {
        *checked = Some((path, now, outcome.clone()));
    }
    outcome.map(|python_version| Bridge { python_version })
}

/// The bridge's path for the request path, found once per process.
fn bridge_path() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        module_dir()
            .and_then(|dir| wsgi_script::find_bridge(&dir))
            .unwrap_or_else(|| PathBuf::from(wsgi_script::BRIDGE_NAMES[0]))
    })
}

/// The file and the init configuration of a script alias's app in `place`.
pub fn app_for<'a>(
    alias: &'a ScriptAliasSpec,
    base: &AppConfig,
    place: impl FnOnce() -> PythonPlace,
) -> (&'a Path, AppConfig) {
    if wsgi_script::is_wsgi_script(&alias.file) {
        (
            bridge_path(),
            wsgi_script::init_config(base, alias, &place()),
        )
    } else {
        (&alias.file, base.clone())
    }
}
