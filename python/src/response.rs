//! The response side of WSGI: `start_response`, the `write()` callable it
//! returns, `wsgi.file_wrapper`, and the [`Exchange`] that sends what they
//! produce to the host.
//!
//! As PEP 3333 has it, the status and headers wait until the first
//! non-empty piece of body (or the end of the response), so an app may call
//! `start_response` again with `exc_info` until then.

use std::sync::{Arc, Mutex, MutexGuard};

use pyo3::exceptions::{PyOSError, PyRuntimeError, PyStopIteration, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString, PyTuple};

use crate::host::{HostError, RequestHost};

/// A parsed `start_response` status: its code, from `"NNN Reason"`.
pub fn parse_status(status: &str) -> Result<u16, String> {
    let bytes = status.as_bytes();
    let valid = bytes.len() >= 3
        && bytes[..3].iter().all(u8::is_ascii_digit)
        && (bytes.len() == 3 || bytes[3] == b' ')
        && !status.chars().any(char::is_control);
    let code: u16 = if valid {
        status[..3].parse().unwrap_or(0)
    } else {
        0
    };
    if (200..=599).contains(&code) {
        Ok(code)
    } else {
        Err(format!(
            "invalid status {status:?}: expected \"NNN Reason\" with NNN from 200 to 599"
        ))
    }
}

/// A header as `start_response` got it, checked and encoded as ISO-8859-1.
pub fn encode_header(name: &str, value: &str) -> Result<(Vec<u8>, Vec<u8>), String> {
    let latin1 = |s: &str, what: &str| -> Result<Vec<u8>, String> {
        s.chars()
            .map(|c| u8::try_from(u32::from(c)).ok())
            .collect::<Option<Vec<u8>>>()
            .ok_or_else(|| format!("header {what} {s:?} is not ISO-8859-1"))
    };
    if name.is_empty() || name.bytes().any(|b| b <= b' ' || b == b':' || b >= 0x7f) {
        return Err(format!("invalid header name {name:?}"));
    }
    if value.chars().any(|c| matches!(c, '\r' | '\n' | '\0')) {
        return Err(format!(
            "header {name} holds a line break or NUL: {value:?}"
        ));
    }
    Ok((latin1(name, "name")?, latin1(value, "value")?))
}

/// Why sending failed.
#[derive(Debug)]
pub enum SendError {
    /// The client went away: stop quietly.
    ClientGone,
    /// The app or the host got something wrong; the message says what.
    Failed(String),
}

#[derive(Default)]
struct Head {
    status: Option<u16>,
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    /// The declared Content-Length.
    content_length: Option<u64>,
    sent: bool,
    written: u64,
}

/// One request's response, shared by `start_response`, `write()` and the
/// bridge's loop over the app's iterable.
pub struct Exchange {
    host: Arc<RequestHost>,
    head: Mutex<Head>,
}

impl Exchange {
    pub fn new(host: Arc<RequestHost>) -> Exchange {
        Exchange {
            host,
            head: Mutex::new(Head::default()),
        }
    }

    pub fn host(&self) -> &Arc<RequestHost> {
        &self.host
    }

    fn head(&self) -> MutexGuard<'_, Head> {
        self.head.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the status and headers went to the host.
    pub fn head_sent(&self) -> bool {
        self.head().sent
    }

    /// Records `start_response`'s status and headers.
    fn set_head(&self, status: u16, headers: Vec<(Vec<u8>, Vec<u8>)>, content_length: Option<u64>) {
        let mut head = self.head();
        head.status = Some(status);
        head.headers = headers;
        head.content_length = content_length;
    }

    fn send_head(&self, head: &mut Head) -> Result<(), SendError> {
        if head.sent {
            return Ok(());
        }
        let Some(status) = head.status else {
            return Err(SendError::Failed(
                "the app sent body data before calling start_response".into(),
            ));
        };
        self.host
            .start_response(status, &head.headers)
            .map_err(|e| match e {
                HostError::Refused => SendError::Failed(
                    "the server refused the status or headers of start_response (the line \
                     before says why)"
                        .into(),
                ),
                HostError::OutsideRequest => SendError::Failed(e.to_string()),
            })?;
        head.sent = true;
        Ok(())
    }

    /// Sends a piece of body (the head first), without going past a
    /// declared Content-Length, with the GIL released; `flush` sends it to
    /// the client at once.
    pub fn send(&self, py: Python<'_>, data: &[u8], flush: bool) -> Result<(), SendError> {
        self.host
            .check()
            .map_err(|e| SendError::Failed(e.to_string()))?;
        let mut head = self.head();
        self.send_head(&mut head)?;
        let room = head
            .content_length
            .map_or(data.len() as u64, |cl| cl.saturating_sub(head.written));
        let data = &data[..data.len().min(usize::try_from(room).unwrap_or(usize::MAX))];
        if data.is_empty() && !flush {
            return Ok(());
        }
        let host = &*self.host;
        let sent = py.detach(|| {
            if !data.is_empty() {
                host.write(data)?;
            }
            if flush { host.flush() } else { Ok(()) }
        });
        sent.map_err(|_| SendError::ClientGone)?;
        head.written += data.len() as u64;
        Ok(())
    }

    /// Has the host send `len` bytes of `file` from `offset` (the head
    /// first), with the GIL released. The caller keeps to the declared
    /// Content-Length (see [`remaining`](Self::remaining)).
    pub fn send_file(
        &self,
        py: Python<'_>,
        file: &std::fs::File,
        offset: u64,
        len: u64,
    ) -> Result<(), HostError> {
        let mut head = self.head();
        self.send_head(&mut head).map_err(|_| HostError::Refused)?;
        let host = &*self.host;
        py.detach(|| host.send_file(std::os::fd::AsFd::as_fd(file), offset, len))?;
        head.written += len;
        Ok(())
    }

    /// Sends the head of a response that ended (an empty body, or what was
    /// sent), and checks a declared Content-Length was met.
    pub fn finish(&self) -> Result<(), SendError> {
        let mut head = self.head();
        self.send_head(&mut head)?;
        match head.content_length {
            Some(declared) if head.written < declared => Err(SendError::Failed(format!(
                "the app declared Content-Length: {declared} and sent {} bytes",
                head.written
            ))),
            _ => Ok(()),
        }
    }

    /// How many more bytes the declared Content-Length allows, if declared.
    pub fn remaining(&self) -> Option<u64> {
        let head = self.head();
        head.content_length
            .map(|cl| cl.saturating_sub(head.written))
    }
}

fn send_error_to_py(e: SendError) -> PyErr {
    match e {
        SendError::ClientGone => PyOSError::new_err("the client closed the connection"),
        SendError::Failed(why) => PyRuntimeError::new_err(why),
    }
}

/// The `start_response` callable of one request.
#[pyclass(module = "rustgi", frozen)]
pub struct StartResponse {
    exchange: Arc<Exchange>,
}

impl StartResponse {
    pub fn new(exchange: Arc<Exchange>) -> StartResponse {
        StartResponse { exchange }
    }
}

#[pymethods]
impl StartResponse {
    #[pyo3(signature = (status, response_headers, exc_info = None))]
    fn __call__(
        &self,
        py: Python<'_>,
        status: &Bound<'_, PyAny>,
        response_headers: &Bound<'_, PyAny>,
        exc_info: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Write> {
        let exc_info = exc_info.filter(|e| !e.is_none());
        if let Some(exc_info) = exc_info {
            if self.exchange.head_sent() {
                // PEP 3333: too late to change the response; re-raise.
                let info = exc_info.cast::<PyTuple>()?;
                let value = info.get_item(1)?;
                let traceback = info.get_item(2)?;
                let raised = value.call_method1("with_traceback", (traceback,))?;
                return Err(PyErr::from_value(raised));
            }
        } else if self.exchange.head().status.is_some() {
            return Err(PyRuntimeError::new_err(
                "start_response was already called: pass exc_info to replace the response",
            ));
        }
        let status = status
            .cast::<PyString>()
            .map_err(|_| PyTypeError::new_err("the status must be a str, such as '200 OK'"))?
            .to_str()?;
        let code = parse_status(status).map_err(PyValueError::new_err)?;
        let mut headers = Vec::new();
        let mut content_length = None;
        if !response_headers.is_instance_of::<pyo3::types::PyList>() {
            return Err(PyTypeError::new_err(
                "the response headers must be a list of (name, value) tuples",
            ));
        }
        for item in response_headers.try_iter()? {
            let item = item?;
            let (name, value): (Bound<'_, PyString>, Bound<'_, PyString>) =
                item.extract().map_err(|_| {
                    PyTypeError::new_err(format!(
                        "a response header must be a (str, str) tuple, not {}",
                        item.repr().map_or_else(|_| "?".into(), |r| r.to_string())
                    ))
                })?;
            let (name, value) = (name.to_str()?, value.to_str()?);
            if name.eq_ignore_ascii_case("content-length") {
                content_length = Some(value.trim().parse::<u64>().map_err(|_| {
                    PyValueError::new_err(format!("invalid Content-Length {value:?}"))
                })?);
            }
            headers.push(encode_header(name, value).map_err(PyValueError::new_err)?);
        }
        self.exchange.set_head(code, headers, content_length);
        let _ = py;
        Ok(Write {
            exchange: Arc::clone(&self.exchange),
        })
    }
}

/// The `write()` callable that `start_response` returns: the body data
/// goes to the client at once.
#[pyclass(module = "rustgi", frozen)]
pub struct Write {
    exchange: Arc<Exchange>,
}

#[pymethods]
impl Write {
    fn __call__(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let data = data
            .cast::<PyBytes>()
            .map_err(|_| PyTypeError::new_err("write() takes bytes"))?;
        self.exchange
            .send(py, data.as_bytes(), true)
            .map_err(send_error_to_py)
    }
}

/// `wsgi.file_wrapper`: iterates over a file from its current offset in
/// blocks; the bridge sends a wrapped real file straight from its
/// descriptor.
#[pyclass(module = "rustgi", frozen)]
pub struct FileWrapper {
    pub filelike: Py<PyAny>,
    pub block_size: usize,
}

#[pymethods]
impl FileWrapper {
    #[new]
    #[pyo3(signature = (filelike, blksize = 8192))]
    fn new(filelike: Py<PyAny>, blksize: isize) -> PyResult<FileWrapper> {
        let block_size = usize::try_from(blksize)
            .ok()
            .filter(|&b| b > 0)
            .ok_or_else(|| PyValueError::new_err("blksize must be positive"))?;
        Ok(FileWrapper {
            filelike,
            block_size,
        })
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let data = self
            .filelike
            .bind(py)
            .call_method1("read", (self.block_size,))?;
        if data.is_empty()? {
            return Err(PyStopIteration::new_err(()));
        }
        Ok(data)
    }

    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let filelike = self.filelike.bind(py);
        if filelike.hasattr("close")? {
            filelike.call_method0("close")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(parse_status("200 OK"), Ok(200));
        assert_eq!(parse_status("404 Not Found"), Ok(404));
        assert_eq!(parse_status("599"), Ok(599));
        for bad in [
            "",
            "20",
            "OK 200",
            "200OK",
            "099 x",
            "600 x",
            "1000 x",
            "200 OK\r\nX: y",
            "abc",
        ] {
            let e = parse_status(bad).unwrap_err();
            assert!(e.contains("invalid status"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn headers_are_latin1_without_line_breaks() {
        assert_eq!(
            encode_header("Content-Type", "text/plain; charset=é").unwrap(),
            (
                b"Content-Type".to_vec(),
                b"text/plain; charset=\xe9".to_vec()
            )
        );
        let e = encode_header("X-A", "a\r\nSet-Cookie: x").unwrap_err();
        assert!(e.contains("line break"), "{e}");
        assert!(encode_header("X-A", "a\nb").is_err());
        assert!(encode_header("X-A", "a\0b").is_err());
        assert!(
            encode_header("X A", "1")
                .unwrap_err()
                .contains("invalid header name")
        );
        assert!(encode_header("", "1").is_err());
        assert!(
            encode_header("X-A", "€")
                .unwrap_err()
                .contains("ISO-8859-1")
        );
    }
}
