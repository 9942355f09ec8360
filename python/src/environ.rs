//! The WSGI environ of a request: the host's CGI variables as native
//! strings, plus the `wsgi.*` and `mod_wsgi.*` keys.
//!
//! Per request, little is built: the keys that never change are in a base
//! dict made once per script and copied at C level; variable names are
//! interned once per process; only the values are new strings.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyString, PyTuple};

use crate::cpython::latin1;
use crate::host::RequestHost;
use crate::input::Input;
use crate::logging::LogStream;
use crate::response::FileWrapper;
use crate::settings::Settings;

/// The most distinct variable names interned: names come from clients'
/// headers, so past this they are made per request instead.
const MAX_INTERNED: usize = 1024;

/// The host's variable naming the process group; the bridge shows it as
/// `mod_wsgi.process_group` instead.
const HOST_PROCESS_GROUP: &[u8] = b"rustgi.process_group";

fn interned() -> &'static Mutex<HashMap<Vec<u8>, Py<PyString>>> {
    static NAMES: OnceLock<Mutex<HashMap<Vec<u8>, Py<PyString>>>> = OnceLock::new();
    NAMES.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The name of a variable as a Python string, interned.
fn name<'py>(py: Python<'py>, bytes: &[u8]) -> PyResult<Bound<'py, PyString>> {
    // The GIL is held here and around every use of the map, so the lock is
    // never contended and never held while Python could release the GIL.
    let mut names = interned().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(s) = names.get(bytes) {
        return Ok(s.bind(py).clone());
    }
    let s = latin1(py, bytes)?;
    if names.len() < MAX_INTERNED {
        names.insert(bytes.to_vec(), s.clone().unbind());
    }
    Ok(s)
}

/// The fixed part of a script's environ.
pub struct EnvironBase {
    base: Py<PyDict>,
    url_scheme: Py<PyString>,
    input: Py<PyString>,
    errors: Py<PyString>,
    script_name_key: Py<PyString>,
    http: Py<PyString>,
    https: Py<PyString>,
}

impl EnvironBase {
    pub fn new(py: Python<'_>, settings: &Settings) -> PyResult<EnvironBase> {
        let base = PyDict::new(py);
        base.set_item("wsgi.version", PyTuple::new(py, [1, 0])?)?;
        base.set_item("wsgi.multithread", PyBool::new(py, settings.multithread))?;
        base.set_item("wsgi.multiprocess", PyBool::new(py, settings.multiprocess))?;
        base.set_item("wsgi.run_once", PyBool::new(py, settings.run_once))?;
        base.set_item("wsgi.input_terminated", true)?;
        base.set_item("wsgi.file_wrapper", py.get_type::<FileWrapper>())?;
        base.set_item("mod_wsgi.process_group", &settings.process_group)?;
        base.set_item("mod_wsgi.application_group", &settings.application_group)?;
        base.set_item("mod_wsgi.callable_object", &settings.callable)?;
        base.set_item("mod_wsgi.script_reloading", "0")?;
        Ok(EnvironBase {
            base: base.unbind(),
            url_scheme: PyString::intern(py, "wsgi.url_scheme").unbind(),
            input: PyString::intern(py, "wsgi.input").unbind(),
            errors: PyString::intern(py, "wsgi.errors").unbind(),
            script_name_key: PyString::intern(py, "mod_wsgi.script_name").unbind(),
            http: PyString::intern(py, "http").unbind(),
            https: PyString::intern(py, "https").unbind(),
        })
    }

    /// The environ of one request, whose CGI variables are `variables`.
    pub fn build<'py, 'a>(
        &self,
        py: Python<'py>,
        variables: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
        host: &Arc<RequestHost>,
    ) -> PyResult<(Bound<'py, PyDict>, Py<LogStream>)> {
        let environ = self.base.bind(py).copy()?;
        let mut https = false;
        for (key, value) in variables {
            match key {
                HOST_PROCESS_GROUP => continue,
                b"REQUEST_SCHEME" => https = value.eq_ignore_ascii_case(b"https"),
                b"HTTPS" => https |= value.eq_ignore_ascii_case(b"on"),
                _ => {}
            }
            let value = latin1(py, value)?;
            if key == b"SCRIPT_NAME" {
                environ.set_item(self.script_name_key.bind(py), &value)?;
            }
            environ.set_item(name(py, key)?, value)?;
        }
        let scheme = if https { &self.https } else { &self.http };
        environ.set_item(self.url_scheme.bind(py), scheme.bind(py))?;
        environ.set_item(self.input.bind(py), Input::new(Arc::clone(host)))?;
        let errors = Py::new(py, LogStream::request(Arc::clone(host)))?;
        environ.set_item(self.errors.bind(py), &errors)?;
        Ok((environ, errors))
    }
}
