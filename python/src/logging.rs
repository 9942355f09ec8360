//! Python's output, into Apache's error log: `sys.stdout`, `sys.stderr` and
//! `wsgi.errors` are [`LogStream`]s that write each line as one log entry
//! (line-buffered, whatever the log file is), and the `logging` module's
//! last-resort handler logs through [`log`] at the record's level.

use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use rustgi_abi as abi;

use crate::host::{RequestHost, process_log};

/// The longest line kept waiting for its newline; a longer one is logged
/// in pieces.
const MAX_PENDING: usize = 8 << 10;

/// A text stream whose lines become error log entries.
#[pyclass(module = "rustgi", frozen)]
pub struct LogStream {
    name: &'static str,
    level: i32,
    /// The request whose lines these are; None: process lines.
    request: Option<Arc<RequestHost>>,
    pending: Mutex<String>,
}

impl LogStream {
    /// A process-wide stream (`sys.stdout`, `sys.stderr`).
    pub fn process(name: &'static str, level: i32) -> LogStream {
        LogStream {
            name,
            level,
            request: None,
            pending: Mutex::new(String::new()),
        }
    }

    /// A request's `wsgi.errors`.
    pub fn request(request: Arc<RequestHost>) -> LogStream {
        LogStream {
            name: "wsgi.errors",
            level: abi::LOG_ERR,
            request: Some(request),
            pending: Mutex::new(String::new()),
        }
    }

    fn emit(&self, line: &str) {
        match &self.request {
            Some(request) => request.log(self.level, line),
            None => process_log(self.level, line),
        }
    }

    /// Logs what is pending, complete line or not.
    pub fn flush_pending(&self) {
        let rest = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        if !rest.is_empty() {
            self.emit(&rest);
        }
    }
}

#[pymethods]
impl LogStream {
    fn write(&self, text: &str) -> usize {
        let mut lines = Vec::new();
        {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            pending.push_str(text);
            while let Some(end) = pending.find('\n') {
                lines.push(pending[..end].to_owned());
                pending.drain(..=end);
            }
            if pending.len() > MAX_PENDING {
                lines.push(std::mem::take(&mut *pending));
            }
        }
        for line in lines {
            self.emit(&line);
        }
        text.chars().count()
    }

    fn writelines(&self, lines: &Bound<'_, PyAny>) -> PyResult<()> {
        for line in lines.try_iter()? {
            self.write(line?.extract::<&str>()?);
        }
        Ok(())
    }

    fn flush(&self) {
        self.flush_pending();
    }

    fn isatty(&self) -> bool {
        false
    }

    fn writable(&self) -> bool {
        true
    }

    fn readable(&self) -> bool {
        false
    }

    fn seekable(&self) -> bool {
        false
    }

    fn close(&self) {
        self.flush_pending();
    }

    fn fileno(&self, py: Python<'_>) -> PyResult<i32> {
        let unsupported = py.import("io")?.getattr("UnsupportedOperation")?;
        Err(PyErr::from_type(
            unsupported.cast_into()?,
            format!(
                "{} goes to the error log and has no file descriptor",
                self.name
            ),
        ))
    }

    #[getter]
    fn closed(&self) -> bool {
        false
    }

    #[getter]
    fn name(&self) -> &'static str {
        self.name
    }

    #[getter]
    fn encoding(&self) -> &'static str {
        "utf-8"
    }

    #[getter]
    fn errors(&self) -> &'static str {
        "backslashreplace"
    }

    #[getter]
    fn line_buffering(&self) -> bool {
        true
    }
}

/// `_rustgi.log(level, message)`: logs each line of `message` at `level`
/// (Apache's numbering), for the `logging` handler.
#[pyfunction]
pub fn log(level: i32, message: &str) {
    let level = level.clamp(abi::LOG_EMERG, abi::LOG_TRACE1);
    for line in message.lines() {
        process_log(level, line);
    }
}
