//! One WSGI script served through the ABI: calling the app for a request
//! and sending what it returns, as PEP 3333 and mod_wsgi do it.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};
use rustgi_abi::{self as abi, RustgiRequest};

use crate::bootstrap;
use crate::cpython;
use crate::environ::EnvironBase;
use crate::host::{RequestHost, process_log};
use crate::response::{Exchange, FileWrapper, SendError, StartResponse};
use crate::script::{LoadError, Script};
use crate::settings::Settings;

pub struct WsgiApp {
    script: Script,
    environ: EnvironBase,
    /// "process group 'shop'" or "embedded", for log lines.
    group: String,
}

/// What a request came to.
enum Outcome {
    Done,
    /// Logged already; the host answers 500 or cuts the response short.
    Failed,
}

impl WsgiApp {
    /// Starts Python in this process if it is not yet, and imports the
    /// script. An import that fails is logged and tried again per request;
    /// only a Python that cannot start fails.
    pub fn new(settings: Settings) -> Result<WsgiApp, String> {
        cpython::start(&settings)?;
        cpython::keep_thread_state();
        let group = if settings.process_group.is_empty() {
            "embedded".to_owned()
        } else {
            format!("process group '{}'", settings.process_group)
        };
        Python::attach(|py| {
            let fail = |e: PyErr| {
                format!(
                    "cannot prepare Python for {}: {}",
                    settings.script.display(),
                    bootstrap::traceback(py, &e)
                )
            };
            bootstrap::prepare(py, &settings).map_err(fail)?;
            let app = WsgiApp {
                script: Script::new(&settings.script, &settings.callable),
                environ: EnvironBase::new(py, &settings).map_err(fail)?,
                group,
            };
            if let Err(e) = app.script.callable(py) {
                app.report_load_error(py, &e, &|level, line| process_log(level, line));
            }
            Ok(app)
        })
    }

    /// What the status page shows of this script, as JSON: the Python
    /// version, the script, and its last import failure while it has not
    /// imported. Needs no GIL.
    pub fn status_json(&self) -> String {
        let state = self.script.state();
        let failure = match &state.failure {
            Some((at, cause)) if !state.imported => {
                serde_json::json!({ "at": at, "cause": cause })
            }
            _ => serde_json::Value::Null,
        };
        serde_json::json!({
            "kind": "WSGI script",
            "python": cpython::running_version(),
            "script": state.path,
            "callable": state.callable,
            "imported": state.imported,
            "import_error": failure,
        })
        .to_string()
    }

    /// Handles one request; the ABI's return code.
    pub fn handle<'a>(
        &self,
        request: &RustgiRequest,
        variables: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
    ) -> i32 {
        cpython::keep_thread_state();
        let host = Arc::new(RequestHost::new(request));
        let outcome = Python::attach(|py| self.serve(py, &host, variables));
        host.close();
        match outcome {
            Outcome::Done => abi::OK,
            Outcome::Failed => abi::ERROR,
        }
    }

    fn serve<'a>(
        &self,
        py: Python<'_>,
        host: &Arc<RequestHost>,
        variables: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
    ) -> Outcome {
        let log = |level: i32, line: &str| host.log(level, line);
        let callable = match self.script.callable(py) {
            Ok(callable) => callable,
            Err(e) => {
                self.report_load_error(py, &e, &log);
                return Outcome::Failed;
            }
        };
        let (environ, errors) = match self.environ.build(py, variables, host) {
            Ok(built) => built,
            Err(e) => {
                self.report(py, "building the environ failed", &e, &log);
                return Outcome::Failed;
            }
        };
        let exchange = Arc::new(Exchange::new(Arc::clone(host)));
        let outcome = match Py::new(py, StartResponse::new(Arc::clone(&exchange))) {
            Ok(start_response) => match callable.call1((environ, start_response)) {
                Ok(result) => {
                    let sent = self.send(py, &exchange, &result, &log);
                    let closed = self.close(py, &result, &log);
                    if matches!(closed, Outcome::Failed) {
                        closed
                    } else {
                        sent
                    }
                }
                Err(e) => {
                    self.report(py, "the app raised an exception", &e, &log);
                    Outcome::Failed
                }
            },
            Err(e) => {
                self.report(py, "cannot make start_response", &e, &log);
                Outcome::Failed
            }
        };
        errors.get().flush_pending();
        outcome
    }

    /// Sends the app's iterable; PEP 3333's rules for its items.
    fn send(
        &self,
        py: Python<'_>,
        exchange: &Exchange,
        result: &Bound<'_, PyAny>,
        log: &dyn Fn(i32, &str),
    ) -> Outcome {
        if let Ok(wrapper) = result.cast::<FileWrapper>()
            && let Some(outcome) = self.send_file(py, exchange, wrapper.get(), log)
        {
            return outcome;
        }
        // A list or tuple is the whole response: no flush between items.
        // Anything else streams: each item reaches the client as it comes.
        let streamed = !(result.is_instance_of::<PyList>() || result.is_instance_of::<PyTuple>());
        let items = match result.try_iter() {
            Ok(items) => items,
            Err(e) => {
                self.report(py, "the app's return value is not iterable", &e, log);
                return Outcome::Failed;
            }
        };
        for item in items {
            let item = match item {
                Ok(item) => item,
                Err(e) => {
                    self.report(py, "the app raised an exception while iterating", &e, log);
                    return Outcome::Failed;
                }
            };
            let Ok(bytes) = item.cast::<PyBytes>() else {
                let kind = item
                    .get_type()
                    .name()
                    .map_or_else(|_| "?".into(), |n| n.to_string());
                self.report_message(
                    &format!("the app yielded a {kind}, and a WSGI body is made of bytes"),
                    log,
                );
                return Outcome::Failed;
            };
            let data = bytes.as_bytes();
            if data.is_empty() {
                continue;
            }
            if let Err(e) = exchange.send(py, data, streamed) {
                return self.send_failed(e, log);
            }
            if exchange.remaining() == Some(0) {
                break;
            }
        }
        match exchange.finish() {
            Ok(()) => Outcome::Done,
            Err(e) => self.send_failed(e, log),
        }
    }

    /// `wsgi.file_wrapper` around a real file, from its current offset: the
    /// host sends it itself where it can (a file bucket; in daemon mode the
    /// descriptor goes to the Apache child and this process reads nothing),
    /// else it is read from its descriptor with the GIL released. None: not
    /// a real file, iterate it instead.
    fn send_file(
        &self,
        py: Python<'_>,
        exchange: &Exchange,
        wrapper: &FileWrapper,
        log: &dyn Fn(i32, &str),
    ) -> Option<Outcome> {
        let file = wrapper.filelike.bind(py);
        let fd: i32 = file.call_method0("fileno").ok()?.extract().ok()?;
        let mut offset: u64 = file.call_method0("tell").ok()?.extract().ok()?;
        let Ok(source) = cpython::duplicate_fd(fd) else {
            return None;
        };
        if let Some(outcome) = self.hand_over_file(py, exchange, &source, offset, file, log) {
            return Some(outcome);
        }
        let mut buf = vec![0u8; wrapper.block_size.clamp(64 << 10, 1 << 20)];
        loop {
            let want = exchange.remaining().map_or(buf.len(), |r| {
                buf.len().min(usize::try_from(r).unwrap_or(usize::MAX))
            });
            if want == 0 {
                break;
            }
            let space = &mut buf[..want];
            let read = py.detach(|| read_at(&source, space, offset));
            let n = match read {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => {
                    self.report_message(&format!("reading the wrapped file failed: {e}"), log);
                    return Some(Outcome::Failed);
                }
            };
            if let Err(e) = exchange.send(py, &buf[..n], false) {
                return Some(self.send_failed(e, log));
            }
            offset += n as u64;
        }
        let _ = file.call_method1("seek", (offset,));
        Some(match exchange.finish() {
            Ok(()) => Outcome::Done,
            Err(e) => self.send_failed(e, log),
        })
    }

    /// Has the host send the rest of a regular file (up to the declared
    /// Content-Length). None when it cannot: not a regular file, or a host
    /// without `send_file`, or one that refused before sending anything.
    fn hand_over_file(
        &self,
        py: Python<'_>,
        exchange: &Exchange,
        source: &std::fs::File,
        offset: u64,
        file: &Bound<'_, PyAny>,
        log: &dyn Fn(i32, &str),
    ) -> Option<Outcome> {
        if !exchange.host().offers_send_file() {
            return None;
        }
        let metadata = source.metadata().ok()?;
        if !metadata.is_file() {
            return None;
        }
        let rest = metadata.len().saturating_sub(offset);
        let len = exchange.remaining().map_or(rest, |r| r.min(rest));
        if len > 0 {
            // The file's position moves first: the host reads the range at
            // explicit offsets through a descriptor that shares it, so
            // nothing may move it while the response goes out.
            file.call_method1("seek", (offset + len,)).ok()?;
            if exchange.send_file(py, source, offset, len).is_err() {
                // Refused before anything was sent, or the client is gone:
                // the copy below finds out which.
                let _ = file.call_method1("seek", (offset,));
                return None;
            }
        }
        Some(match exchange.finish() {
            Ok(()) => Outcome::Done,
            Err(e) => self.send_failed(e, log),
        })
    }

    /// Calls the iterable's `close()`, as PEP 3333 requires whatever happened.
    fn close(&self, py: Python<'_>, result: &Bound<'_, PyAny>, log: &dyn Fn(i32, &str)) -> Outcome {
        match result.getattr_opt("close") {
            Ok(Some(close)) => match close.call0() {
                Ok(_) => Outcome::Done,
                Err(e) => {
                    self.report(py, "the iterable's close() raised an exception", &e, log);
                    Outcome::Failed
                }
            },
            Ok(None) => Outcome::Done,
            Err(e) => {
                self.report(py, "the iterable's close cannot be read", &e, log);
                Outcome::Failed
            }
        }
    }

    fn send_failed(&self, e: SendError, log: &dyn Fn(i32, &str)) -> Outcome {
        match e {
            SendError::ClientGone => {
                log(
                    abi::LOG_INFO,
                    &format!(
                        "WSGI script {}: the client went away before the response was sent",
                        self.script.path()
                    ),
                );
            }
            SendError::Failed(why) => self.report_message(&why, log),
        }
        Outcome::Failed
    }

    /// The line that names the group, the pid and the script.
    fn headline(&self, what: &str) -> String {
        format!(
            "WSGI script {} ({}, pid {}): {what}",
            self.script.path(),
            self.group,
            std::process::id()
        )
    }

    fn report_message(&self, what: &str, log: &dyn Fn(i32, &str)) {
        log(abi::LOG_ERR, &self.headline(what));
    }

    /// Logs an exception: the headline, then the traceback line by line.
    fn report(&self, py: Python<'_>, what: &str, error: &PyErr, log: &dyn Fn(i32, &str)) {
        if error.is_instance_of::<pyo3::exceptions::PySystemExit>(py) {
            log(
                abi::LOG_ERR,
                &self.headline(&format!("{what}: SystemExit, ignored")),
            );
        } else {
            log(abi::LOG_ERR, &self.headline(&format!("{what}:")));
        }
        for line in bootstrap::traceback(py, error).lines() {
            log(abi::LOG_ERR, line);
        }
    }

    fn report_load_error(&self, py: Python<'_>, error: &LoadError, log: &dyn Fn(i32, &str)) {
        match error {
            LoadError::Raised(e) => self.report(py, "importing the script failed", e, log),
            LoadError::NoCallable(why) => log(abi::LOG_ERR, why),
        }
    }
}

/// `pread` into `buf` at `offset`, retried when interrupted.
fn read_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    use std::os::unix::fs::FileExt;
    loop {
        match file.read_at(buf, offset) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}
