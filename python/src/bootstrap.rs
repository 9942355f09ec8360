//! The process's Python side of the bridge (`py/bootstrap.py`), set up once
//! per interpreter: output to the error log, python-path, and the helpers
//! that load scripts and format tracebacks.

use std::ffi::CString;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyList, PyModule};
use rustgi_abi as abi;

use crate::logging::{LogStream, log};
use crate::settings::Settings;

const SOURCE: &str = include_str!("py/bootstrap.py");

static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// The bootstrap module, made and run on first use.
pub fn module(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    let module = MODULE.get_or_try_init(py, || -> PyResult<Py<PyModule>> {
        let code = CString::new(SOURCE).expect("bootstrap.py holds no NUL");
        let module = PyModule::from_code(py, &code, c"<rustgi bootstrap>", c"_rustgi_bootstrap")?;
        // print() is not an error: it is logged at warn, visible at
        // Apache's default LogLevel; stderr and tracebacks at error.
        let stdout = Py::new(py, LogStream::process("<stdout>", abi::LOG_WARNING))?;
        let stderr = Py::new(py, LogStream::process("<stderr>", abi::LOG_ERR))?;
        let log = pyo3::wrap_pyfunction!(log, &module)?;
        module.call_method1("install_output", (stdout, stderr, log))?;
        module.call_method0("release_signals")?;
        Ok(module.unbind())
    })?;
    Ok(module.bind(py))
}

/// Sets the process up for `settings`' script: the bootstrap, then its
/// python-path.
pub fn prepare(py: Python<'_>, settings: &Settings) -> PyResult<()> {
    let module = module(py)?;
    let paths: Vec<String> = settings
        .path
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    module.call_method1("add_paths", (PyList::new(py, paths)?,))?;
    Ok(())
}

/// The traceback of `error` as text, or what went wrong formatting it.
pub fn traceback(py: Python<'_>, error: &PyErr) -> String {
    let formatted = module(py).and_then(|m| {
        m.call_method1("format_exception", (error.value(py), error.traceback(py)))?
            .extract::<String>()
    });
    match formatted {
        Ok(text) => text,
        Err(_) => format!("{error} (no traceback: formatting it failed)"),
    }
}

/// Runs the `atexit` functions the apps registered, when the process's last
/// script shuts down.
pub fn run_exit_functions(py: Python<'_>) -> PyResult<()> {
    module(py)?.call_method0("run_exit_functions")?;
    Ok(())
}
