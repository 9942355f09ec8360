//! A small HTTP/1.1 client: enough to check the cases' answers and to
//! stream big bodies up and down.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A response head.
#[derive(Clone, Debug)]
pub struct Head {
    pub status: u16,
    pub headers: Vec<(String, String)>,
}

impl Head {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn is_chunked(&self) -> bool {
        self.header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    }

    fn content_length(&self) -> Option<u64> {
        self.header("content-length")?.trim().parse().ok()
    }
}

fn invalid(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// Connects to `addr`, with generous timeouts.
pub fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(120)))?;
    s.set_write_timeout(Some(Duration::from_secs(120)))?;
    Ok(s)
}

/// Reads a response head.
pub fn read_head(r: &mut impl BufRead) -> io::Result<Head> {
    let mut line = String::new();
    r.read_line(&mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .filter(|_| line.starts_with("HTTP/1."))
        .ok_or_else(|| invalid(format!("not an HTTP response: {line:?}")))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Err(invalid("the connection closed inside the head"));
        }
        let l = line.trim_end();
        if l.is_empty() {
            return Ok(Head { status, headers });
        }
        if let Some((n, v)) = l.split_once(':') {
            headers.push((n.trim().to_owned(), v.trim().to_owned()));
        }
    }
}

/// A response body, de-chunked: read it to its end.
pub struct Body<R> {
    inner: R,
    chunked: bool,
    /// Bytes left in the current chunk, or of the whole body.
    left: Option<u64>,
    done: bool,
}

impl<R: BufRead> Body<R> {
    pub fn new(inner: R, head: &Head) -> Self {
        let chunked = head.is_chunked();
        Body {
            inner,
            chunked,
            left: if chunked {
                Some(0)
            } else {
                head.content_length()
            },
            done: false,
        }
    }

    fn next_chunk(&mut self) -> io::Result<()> {
        let mut line = String::new();
        if self.inner.read_line(&mut line)? == 0 {
            return Err(invalid("the connection closed before the last chunk"));
        }
        let size = line.trim().split(';').next().unwrap_or("");
        let size = u64::from_str_radix(size.trim(), 16)
            .map_err(|_| invalid(format!("bad chunk size {line:?}")))?;
        if size == 0 {
            // Trailers, up to the empty line.
            loop {
                line.clear();
                if self.inner.read_line(&mut line)? == 0 || line.trim().is_empty() {
                    break;
                }
            }
            self.done = true;
        }
        self.left = Some(size);
        Ok(())
    }
}

impl<R: BufRead> Read for Body<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        if self.chunked && self.left == Some(0) {
            self.next_chunk()?;
            if self.done {
                return Ok(0);
            }
        }
        let want = match self.left {
            Some(left) => buf.len().min(usize::try_from(left).unwrap_or(usize::MAX)),
            None => buf.len(),
        };
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            if self.left.is_some() {
                return Err(invalid("the connection closed inside the body"));
            }
            self.done = true;
            return Ok(0);
        }
        if let Some(left) = &mut self.left {
            *left -= n as u64;
            if *left == 0 {
                if self.chunked {
                    let mut crlf = [0u8; 2];
                    self.inner.read_exact(&mut crlf)?;
                } else {
                    self.done = true;
                }
            }
        }
        Ok(n)
    }
}

/// `GET path` on a new connection: the status and the whole body.
pub fn get(addr: SocketAddr, path: &str) -> io::Result<(u16, Vec<u8>)> {
    let mut s = connect(addr)?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut r = BufReader::new(s);
    let head = read_head(&mut r)?;
    let mut body = Vec::new();
    Body::new(r, &head).read_to_end(&mut body)?;
    Ok((head.status, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(raw: &[u8]) -> io::Result<Vec<u8>> {
        let mut r = BufReader::new(raw);
        let head = read_head(&mut r)?;
        let mut out = Vec::new();
        Body::new(r, &head).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn chunked_and_sized_bodies() {
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nT: v\r\n\r\n";
        assert_eq!(body(raw).unwrap(), b"hello world");
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA";
        assert_eq!(body(raw).unwrap(), b"hello");
        let raw = b"HTTP/1.0 200 OK\r\n\r\nto the end";
        assert_eq!(body(raw).unwrap(), b"to the end");
        let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort";
        assert!(body(raw).is_err());
        assert!(body(b"SSH-2.0\r\n\r\n").is_err());
    }
}
