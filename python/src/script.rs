//! A WSGI script: imported as a module of its own and its callable kept.
//!
//! A script that fails to import (a syntax error, an exception, a missing
//! package) does not fail the process: the failure is logged with its
//! traceback, its requests get 500, and each request tries the import again,
//! so fixing the file (or installing the package) is enough.

use std::path::Path;
use std::sync::{Mutex, OnceLock};

use pyo3::prelude::*;

use crate::bootstrap;

/// The module name a script is imported as: unique per path, readable in
/// tracebacks and `sys.modules`.
pub fn module_name(path: &Path) -> String {
    let text = path.to_string_lossy();
    let readable: String = text
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    // FNV-1a, so that /a-b.py and /a_b.py get different names.
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("_rustgi{readable}_{:08x}", hash as u32)
}

/// Why a script has no callable to call.
pub enum LoadError {
    /// Importing it raised: the exception.
    Raised(PyErr),
    /// It imported without the callable, or the callable is not callable.
    NoCallable(String),
}

pub struct Script {
    path: String,
    callable_name: String,
    module_name: String,
    callable: OnceLock<Py<PyAny>>,
    /// Held while importing: one import at a time.
    loading: Mutex<()>,
    /// The last import that failed, while the script has not imported:
    /// when (seconds since the epoch) and why, for the status page.
    failure: Mutex<Option<(u64, String)>>,
}

/// What the status page shows of a script.
pub struct ScriptState {
    pub path: String,
    pub callable: String,
    pub imported: bool,
    pub failure: Option<(u64, String)>,
}

impl Script {
    pub fn new(path: &Path, callable_name: &str) -> Script {
        Script {
            path: path.to_string_lossy().into_owned(),
            callable_name: callable_name.to_owned(),
            module_name: module_name(path),
            callable: OnceLock::new(),
            loading: Mutex::new(()),
            failure: Mutex::new(None),
        }
    }

    /// Its state, without Python (the status page asks from any thread).
    pub fn state(&self) -> ScriptState {
        ScriptState {
            path: self.path.clone(),
            callable: self.callable_name.clone(),
            imported: self.callable.get().is_some(),
            failure: self
                .failure
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }

    fn record_failure(&self, py: Python<'_>, error: &LoadError) {
        let cause = match error {
            LoadError::Raised(e) => {
                let kind = e
                    .get_type(py)
                    .name()
                    .map_or_else(|_| "exception".to_owned(), |n| n.to_string());
                format!("{kind}: {}", e.value(py))
            }
            LoadError::NoCallable(why) => why.clone(),
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        *self.failure.lock().unwrap_or_else(|e| e.into_inner()) = Some((now, cause));
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// The callable, importing the script if it is not yet.
    pub fn callable<'py>(&self, py: Python<'py>) -> Result<Bound<'py, PyAny>, LoadError> {
        if let Some(callable) = self.callable.get() {
            return Ok(callable.bind(py).clone());
        }
        match self.loading.try_lock() {
            Ok(_loading) => match self.import(py) {
                Ok(callable) => {
                    let _ = self.callable.set(callable.clone().unbind());
                    *self.failure.lock().unwrap_or_else(|e| e.into_inner()) = None;
                    Ok(callable)
                }
                Err(e) => {
                    self.record_failure(py, &e);
                    Err(e)
                }
            },
            Err(_) => {
                // Another thread imports: wait for it without the GIL (the
                // importer needs it), then take its outcome or try again.
                py.detach(|| drop(self.loading.lock()));
                match self.callable.get() {
                    Some(callable) => Ok(callable.bind(py).clone()),
                    None => self.callable(py),
                }
            }
        }
    }

    fn import<'py>(&self, py: Python<'py>) -> Result<Bound<'py, PyAny>, LoadError> {
        let module = bootstrap::module(py)
            .and_then(|b| b.call_method1("load_script", (&self.path, &self.module_name)))
            .map_err(LoadError::Raised)?;
        let callable = module
            .getattr_opt(self.callable_name.as_str())
            .map_err(LoadError::Raised)?
            .ok_or_else(|| {
                LoadError::NoCallable(format!(
                    "WSGI script {} has no '{}' (set callable-object= to use another name)",
                    self.path, self.callable_name
                ))
            })?;
        if !callable.is_callable() {
            return Err(LoadError::NoCallable(format!(
                "'{}' in WSGI script {} is not callable",
                self.callable_name, self.path
            )));
        }
        Ok(callable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_are_identifiers_unique_per_path() {
        let a = module_name(Path::new("/srv/app/wsgi.py"));
        assert!(a.starts_with("_rustgi_srv_app_wsgi_py_"), "{a}");
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        assert_ne!(
            module_name(Path::new("/srv/a-b.py")),
            module_name(Path::new("/srv/a_b.py"))
        );
        assert_eq!(a, module_name(Path::new("/srv/app/wsgi.py")));
    }
}
