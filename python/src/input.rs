//! `wsgi.input`: the request body as a binary file, read from the host in
//! pieces with the GIL released, so memory stays bounded by what the app
//! asks for.

use std::sync::{Arc, Mutex};

use pyo3::exceptions::{PyOSError, PyStopIteration};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};

use crate::host::{HostError, RequestHost};

/// The most bytes asked of the host in one read.
const READ_CHUNK: usize = 256 << 10;
/// What `readline` asks for when it needs more.
const LINE_CHUNK: usize = 16 << 10;

#[pyclass(module = "rustgi", frozen)]
pub struct Input {
    host: Arc<RequestHost>,
    state: Mutex<Buffered>,
}

/// Bytes read from the host and not yet given to the app.
#[derive(Default)]
struct Buffered {
    data: Vec<u8>,
    /// Where the unread bytes of `data` start.
    start: usize,
    eof: bool,
}

impl Buffered {
    fn unread(&self) -> &[u8] {
        &self.data[self.start..]
    }

    /// Takes `n` unread bytes.
    fn take(&mut self, n: usize) -> Vec<u8> {
        let taken = self.data[self.start..self.start + n].to_vec();
        self.start += n;
        if self.start == self.data.len() {
            self.data.clear();
            self.start = 0;
        }
        taken
    }

    /// Appends up to `want` bytes from the host (one read); false at the end.
    fn fill(&mut self, py: Python<'_>, host: &RequestHost, want: usize) -> PyResult<bool> {
        if self.eof {
            return Ok(false);
        }
        if self.start > 0 && self.start * 2 >= self.data.len() {
            self.data.drain(..self.start);
            self.start = 0;
        }
        let old_len = self.data.len();
        self.data.resize(old_len + want.clamp(1, READ_CHUNK), 0);
        let space = &mut self.data[old_len..];
        let read = py.detach(|| host.read_body(space));
        match read {
            Ok(n) => {
                self.data.truncate(old_len + n);
                if n == 0 {
                    self.eof = true;
                }
                Ok(n > 0)
            }
            Err(e) => {
                self.data.truncate(old_len);
                Err(body_error(e))
            }
        }
    }
}

fn body_error(e: HostError) -> PyErr {
    match e {
        HostError::OutsideRequest => PyOSError::new_err(format!("wsgi.input cannot be read: {e}")),
        HostError::Refused => PyOSError::new_err(
            "the request body could not be read: the client went away, sent a malformed \
             chunked body, or sent more than LimitRequestBody allows",
        ),
    }
}

/// A size argument: None or negative means no limit.
fn limit(size: Option<isize>) -> Option<usize> {
    size.and_then(|n| usize::try_from(n).ok())
}

impl Input {
    pub fn new(host: Arc<RequestHost>) -> Input {
        Input {
            host,
            state: Mutex::new(Buffered::default()),
        }
    }

    fn state(&self) -> PyResult<std::sync::MutexGuard<'_, Buffered>> {
        // Refuse a wrong thread before waiting for the lock a reader holds.
        self.host.check().map_err(body_error)?;
        Ok(self.state.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn read_line(&self, py: Python<'_>, size: Option<usize>) -> PyResult<Vec<u8>> {
        let mut state = self.state()?;
        let mut searched = 0;
        loop {
            let unread = state.unread();
            let cap = size.map_or(unread.len(), |s| s.min(unread.len()));
            if let Some(i) = unread[searched.min(cap)..cap]
                .iter()
                .position(|&b| b == b'\n')
            {
                let n = searched.min(cap) + i + 1;
                return Ok(state.take(n));
            }
            if size.is_some_and(|s| unread.len() >= s) {
                let n = size.unwrap_or(0);
                return Ok(state.take(n));
            }
            searched = unread.len();
            if !state.fill(py, &self.host, LINE_CHUNK)? {
                let n = state.unread().len();
                return Ok(state.take(n));
            }
        }
    }
}

#[pymethods]
impl Input {
    /// Reads `size` bytes (fewer only at the end), or all with no size.
    #[pyo3(signature = (size = None))]
    fn read<'py>(&self, py: Python<'py>, size: Option<isize>) -> PyResult<Bound<'py, PyBytes>> {
        let mut state = self.state()?;
        let size = limit(size);
        while size.is_none_or(|s| state.unread().len() < s) {
            let want = size.map_or(READ_CHUNK, |s| s - state.unread().len());
            if !state.fill(py, &self.host, want)? {
                break;
            }
        }
        let n = size.map_or(state.unread().len(), |s| s.min(state.unread().len()));
        let taken = state.take(n);
        Ok(PyBytes::new(py, &taken))
    }

    /// Reads a line, its newline included; at most `size` bytes.
    #[pyo3(signature = (size = None))]
    fn readline<'py>(&self, py: Python<'py>, size: Option<isize>) -> PyResult<Bound<'py, PyBytes>> {
        let line = self.read_line(py, limit(size))?;
        Ok(PyBytes::new(py, &line))
    }

    /// Reads lines until the end, or until they hold `hint` bytes.
    #[pyo3(signature = (hint = None))]
    fn readlines<'py>(&self, py: Python<'py>, hint: Option<isize>) -> PyResult<Bound<'py, PyList>> {
        let hint = limit(hint).filter(|&h| h > 0);
        let lines = PyList::empty(py);
        let mut total = 0;
        loop {
            let line = self.read_line(py, None)?;
            if line.is_empty() {
                break;
            }
            total += line.len();
            lines.append(PyBytes::new(py, &line))?;
            if hint.is_some_and(|h| total >= h) {
                break;
            }
        }
        Ok(lines)
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let line = self.read_line(py, None)?;
        if line.is_empty() {
            return Err(PyStopIteration::new_err(()));
        }
        Ok(PyBytes::new(py, &line))
    }

    fn close(&self) {}
}
