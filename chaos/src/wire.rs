//! A raw HTTP/1.1 client over `TcpStream`: it sends exactly the bytes it is
//! given and reads responses by hand, telling a clean close apart from a
//! response cut short.
//!
//! Standard library only; `tests/e2e/solo/hostile.rs` and
//! `rustgi-chaos --hostile` share it.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

/// A response: status, headers (in order, names as sent) and the body
/// (de-chunked).
#[derive(Clone, Debug, Default)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Reads a line ending in LF (without CR LF); `None` at EOF before any byte.
fn read_line<R: BufRead>(r: &mut R, limit: usize) -> io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    let n = r.take(limit as u64).read_until(b'\n', &mut line)?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the connection closed in the middle of a line (or the line is too long)",
        ));
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some(line))
}

/// Reads one response to a request of method `method` (a `HEAD` gets no
/// body). `Ok(None)`: the connection closed before any byte of a response.
/// A response cut short or malformed is an error.
pub fn read_response<R: BufRead>(r: &mut R, method: &str) -> io::Result<Option<Response>> {
    let mut status_line = match read_line(r, 16 * 1024)? {
        None => return Ok(None),
        Some(l) => l,
    };
    // Skip interim responses (100 Continue).
    loop {
        let text = String::from_utf8_lossy(&status_line).into_owned();
        let mut parts = text.splitn(3, ' ');
        let version = parts.next().unwrap_or("");
        let status: u16 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .filter(|_| version.starts_with("HTTP/1."))
            .ok_or_else(|| bad(format!("bad status line {text:?}")))?;
        let mut headers = Vec::new();
        loop {
            let line = read_line(r, 64 * 1024)?
                .ok_or_else(|| bad("the connection closed in the response head"))?;
            if line.is_empty() {
                break;
            }
            let line = String::from_utf8_lossy(&line).into_owned();
            let (n, v) = line
                .split_once(':')
                .ok_or_else(|| bad(format!("bad header line {line:?}")))?;
            headers.push((n.to_owned(), v.trim().to_owned()));
        }
        if (100..200).contains(&status) && status != 101 {
            status_line = read_line(r, 16 * 1024)?
                .ok_or_else(|| bad("the connection closed after an interim response"))?;
            continue;
        }
        let mut resp = Response {
            status,
            headers,
            body: Vec::new(),
        };
        resp.body = read_body(r, method, &resp)?;
        return Ok(Some(resp));
    }
}

fn read_body<R: BufRead>(r: &mut R, method: &str, resp: &Response) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    if method.eq_ignore_ascii_case("HEAD") || resp.status == 204 || resp.status == 304 {
        return Ok(body);
    }
    if let Some(te) = resp.header("Transfer-Encoding") {
        if !te.to_ascii_lowercase().trim().ends_with("chunked") {
            r.read_to_end(&mut body)?;
            return Ok(body);
        }
        loop {
            let line = read_line(r, 4096)?.ok_or_else(|| bad("closed before a chunk"))?;
            let line = String::from_utf8_lossy(&line).into_owned();
            let size = line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size, 16)
                .map_err(|_| bad(format!("bad chunk size {line:?}")))?;
            if size == 0 {
                // Trailers up to an empty line.
                while !read_line(r, 64 * 1024)?
                    .ok_or_else(|| bad("closed in the trailers"))?
                    .is_empty()
                {}
                return Ok(body);
            }
            let start = body.len();
            body.resize(start + size, 0);
            r.read_exact(&mut body[start..])?;
            let end = read_line(r, 4096)?.ok_or_else(|| bad("closed after a chunk"))?;
            if !end.is_empty() {
                return Err(bad("chunk data not followed by CRLF"));
            }
        }
    }
    if let Some(len) = resp.header("Content-Length") {
        let len: usize = len
            .trim()
            .parse()
            .map_err(|_| bad(format!("bad Content-Length {len:?}")))?;
        body.resize(len, 0);
        r.read_exact(&mut body)?;
        return Ok(body);
    }
    r.read_to_end(&mut body)?;
    Ok(body)
}

/// Connects, with `timeout` for the connection, reads and writes.
pub fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    s.set_nodelay(true)?;
    Ok(s)
}

/// A request head: the request line, `Host`, then `headers` as given (each
/// `Name: value`), then an empty line. Bytes, so that tests can put any
/// byte anywhere.
pub fn head(method: &str, target: &[u8], host: &str, headers: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(target);
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    out.extend_from_slice(host.as_bytes());
    out.extend_from_slice(b"\r\n");
    for h in headers {
        out.extend_from_slice(h);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// What became of one exchange of [`exchange`].
#[derive(Debug)]
pub struct Exchange {
    /// The response (None: the server closed without answering).
    pub response: Option<Response>,
    /// The client's port (the error_log's `[client ADDR:PORT]`).
    pub local_port: u16,
}

/// Sends `raw` on a new connection and reads one response.
pub fn exchange(addr: SocketAddr, raw: &[u8], timeout: Duration) -> io::Result<Exchange> {
    let mut s = connect(addr, timeout)?;
    let local_port = s.local_addr()?.port();
    s.write_all(raw)?;
    let mut r = BufReader::new(s);
    let response = read_response(&mut r, method_of(raw))?;
    Ok(Exchange {
        response,
        local_port,
    })
}

/// The method of a raw request (up to the first space).
pub fn method_of(raw: &[u8]) -> &str {
    let end = raw.iter().position(|b| *b == b' ').unwrap_or(0);
    std::str::from_utf8(&raw[..end]).unwrap_or("")
}

/// Shuts down the sending half of `s` (the server reads EOF).
pub fn half_close(s: &TcpStream) -> io::Result<()> {
    s.shutdown(Shutdown::Write)
}
