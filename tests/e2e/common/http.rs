//! A small HTTP/1.1 client over `std::net::TcpStream`, for tests: it sends
//! exactly the bytes it is told to (or what a [`Request`] builds) and parses
//! the response by hand, so tests can see framing details an HTTP library
//! would hide.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// How long a read or write may block.
pub const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// The body of a [`Request`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Body {
    /// No body and no framing header.
    #[default]
    None,
    /// A body sent with `Content-Length` (unless the request sets it).
    Bytes(Vec<u8>),
    /// A body sent with `Transfer-Encoding: chunked`, one chunk per piece
    /// (empty pieces are skipped: an empty chunk would end the body).
    Chunked(Vec<Vec<u8>>),
}

impl Body {
    /// The body bytes, de-chunked.
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            Body::None => Vec::new(),
            Body::Bytes(b) => b.clone(),
            Body::Chunked(pieces) => pieces.concat(),
        }
    }
}

/// An HTTP/1.1 request. `Host` (from the server address) and
/// `Connection: close` are added unless the request sets them.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

impl Request {
    pub fn new(method: &str, target: &str) -> Self {
        Request {
            method: method.to_owned(),
            target: target.to_owned(),
            headers: Vec::new(),
            body: Body::None,
        }
    }

    pub fn get(target: &str) -> Self {
        Self::new("GET", target)
    }

    pub fn head(target: &str) -> Self {
        Self::new("HEAD", target)
    }

    pub fn post(target: &str) -> Self {
        Self::new("POST", target)
    }

    pub fn put(target: &str) -> Self {
        Self::new("PUT", target)
    }

    /// Adds a header; adding one name twice sends it twice.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sends `body` with `Content-Length`.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Body::Bytes(body.into());
        self
    }

    /// Sends the pieces as chunks of a chunked body.
    pub fn chunked<I, B>(mut self, pieces: I) -> Self
    where
        I: IntoIterator<Item = B>,
        B: Into<Vec<u8>>,
    {
        self.body = Body::Chunked(pieces.into_iter().map(Into::into).collect());
        self
    }

    fn has_header(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// The bytes sent on the wire; `host` is used when no `Host` is set.
    pub fn to_bytes(&self, host: &str) -> Vec<u8> {
        let mut head = format!("{} {} HTTP/1.1\r\n", self.method, self.target);
        if !self.has_header("Host") {
            head.push_str(&format!("Host: {host}\r\n"));
        }
        if !self.has_header("Connection") {
            head.push_str("Connection: close\r\n");
        }
        for (n, v) in &self.headers {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
        match &self.body {
            Body::Bytes(b) if !self.has_header("Content-Length") => {
                head.push_str(&format!("Content-Length: {}\r\n", b.len()));
            }
            Body::Chunked(_) if !self.has_header("Transfer-Encoding") => {
                head.push_str("Transfer-Encoding: chunked\r\n");
            }
            _ => {}
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        match &self.body {
            Body::None => {}
            Body::Bytes(b) => out.extend_from_slice(b),
            Body::Chunked(pieces) => {
                for p in pieces.iter().filter(|p| !p.is_empty()) {
                    out.extend_from_slice(format!("{:x}\r\n", p.len()).as_bytes());
                    out.extend_from_slice(p);
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b"0\r\n\r\n");
            }
        }
        out
    }
}

/// Status line and headers of a response.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Head {
    pub version: String,
    pub status: u16,
    pub reason: String,
    /// In the order received, names as sent; repeated headers are kept.
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header called `name` (case-insensitive), in order.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// A complete response.
#[derive(Clone, Debug, Default)]
pub struct Response {
    pub head: Head,
    /// The body, de-chunked.
    pub body: Vec<u8>,
    /// The client side of the connection (REMOTE_PORT is its port).
    pub local_addr: Option<SocketAddr>,
}

impl Response {
    pub fn status(&self) -> u16 {
        self.head.status
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.header(name)
    }

    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.head.header_all(name)
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics with the response when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "response body is not JSON ({e}): status {} {:?}\n{}",
                self.head.status,
                self.head.headers,
                self.text()
            )
        })
    }
}

/// How the body of a response is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// No body (HEAD, 1xx, 204, 304).
    Empty,
    /// `Content-Length`.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Read until the server closes the connection.
    Close,
}

/// How a response to `method` with `head` is framed (RFC 9112, 6.3).
pub fn framing(method: &str, head: &Head) -> io::Result<Framing> {
    if method.eq_ignore_ascii_case("HEAD")
        || (100..200).contains(&head.status)
        || head.status == 204
        || head.status == 304
    {
        return Ok(Framing::Empty);
    }
    if let Some(te) = head.header("Transfer-Encoding") {
        let last = te.rsplit(',').next().unwrap_or("").trim();
        return Ok(if last.eq_ignore_ascii_case("chunked") {
            Framing::Chunked
        } else {
            Framing::Close
        });
    }
    let lengths = head.header_all("Content-Length");
    if let Some(first) = lengths.first() {
        let n: u64 = first
            .trim()
            .parse()
            .map_err(|_| bad(format!("bad Content-Length {first:?}")))?;
        if lengths.iter().any(|l| l.trim() != first.trim()) {
            return Err(bad(format!("conflicting Content-Length {lengths:?}")));
        }
        return Ok(Framing::Length(n));
    }
    Ok(Framing::Close)
}

fn bad(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Reads one line ending in LF (CR before it dropped); `None` at EOF.
fn read_line<R: BufRead>(r: &mut R) -> io::Result<Option<String>> {
    let mut buf = Vec::new();
    let n = r.read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed in the middle of a line",
        ));
    }
    buf.pop();
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    String::from_utf8(buf)
        .map_err(|e| bad(format!("line is not UTF-8: {e}")))
        .map(Some)
}

/// Reads a status line and headers, skipping interim (1xx) responses but
/// for `101 Switching Protocols`.
pub fn read_head<R: BufRead>(r: &mut R) -> io::Result<Head> {
    loop {
        let head = read_one_head(r)?;
        if (100..200).contains(&head.status) && head.status != 101 {
            continue;
        }
        return Ok(head);
    }
}

fn read_one_head<R: BufRead>(r: &mut R) -> io::Result<Head> {
    let line = read_line(r)?.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed before the response",
        )
    })?;
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or("").to_owned();
    if !version.starts_with("HTTP/") {
        return Err(bad(format!("bad status line {line:?}")));
    }
    let status = parts
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| bad(format!("bad status line {line:?}")))?;
    let reason = parts.next().unwrap_or("").to_owned();
    let mut headers: Vec<(String, String)> = Vec::new();
    loop {
        let line = read_line(r)?.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed in the headers",
            )
        })?;
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            // Obsolete line folding: continues the previous value.
            let (_, v) = headers
                .last_mut()
                .ok_or_else(|| bad("continuation line before any header"))?;
            v.push(' ');
            v.push_str(line.trim());
            continue;
        }
        let (n, v) = line
            .split_once(':')
            .ok_or_else(|| bad(format!("bad header line {line:?}")))?;
        headers.push((n.to_owned(), v.trim().to_owned()));
    }
    Ok(Head {
        version,
        status,
        reason,
        headers,
    })
}

/// Reads a body framed as `framing`, decoding chunks, as it arrives.
#[derive(Debug)]
pub struct BodyReader<R> {
    inner: R,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Done,
    Length(u64),
    /// Inside a chunk with this many bytes left (0: at a chunk-size line).
    Chunk(u64),
    Close,
}

impl<R: BufRead> BodyReader<R> {
    pub fn new(inner: R, framing: Framing) -> Self {
        let state = match framing {
            Framing::Empty | Framing::Length(0) => State::Done,
            Framing::Length(n) => State::Length(n),
            Framing::Chunked => State::Chunk(0),
            Framing::Close => State::Close,
        };
        BodyReader { inner, state }
    }

    /// Whether the whole body has been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The underlying reader (e.g. to check that nothing follows the body).
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Reads the rest of the body.
    pub fn read_all(&mut self) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        self.read_to_end(&mut out)?;
        Ok(out)
    }

    fn next_chunk(&mut self) -> io::Result<()> {
        let line = read_line(&mut self.inner)?.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed before a chunk",
            )
        })?;
        let size = line.split(';').next().unwrap_or("").trim();
        let size = u64::from_str_radix(size, 16)
            .map_err(|_| bad(format!("bad chunk size line {line:?}")))?;
        if size == 0 {
            // Trailers, up to an empty line.
            loop {
                match read_line(&mut self.inner)? {
                    Some(l) if l.is_empty() => break,
                    Some(_) => {}
                    None => {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "connection closed in the trailers",
                        ));
                    }
                }
            }
            self.state = State::Done;
        } else {
            self.state = State::Chunk(size);
        }
        Ok(())
    }
}

impl<R: BufRead> Read for BodyReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match self.state {
                State::Done => return Ok(0),
                State::Close => return self.inner.read(buf),
                State::Length(left) => {
                    let want = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
                    let n = self.inner.read(&mut buf[..want])?;
                    if n == 0 {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            format!("connection closed with {left} body bytes missing"),
                        ));
                    }
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        State::Done
                    } else {
                        State::Length(left)
                    };
                    return Ok(n);
                }
                State::Chunk(0) => self.next_chunk()?,
                State::Chunk(left) => {
                    let want = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
                    let n = self.inner.read(&mut buf[..want])?;
                    if n == 0 {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "connection closed inside a chunk",
                        ));
                    }
                    let left = left - n as u64;
                    if left == 0 {
                        // The CRLF after the chunk data.
                        let end = read_line(&mut self.inner)?;
                        if end.as_deref() != Some("") {
                            return Err(bad(format!("chunk not followed by CRLF: {end:?}")));
                        }
                    }
                    self.state = State::Chunk(left);
                    return Ok(n);
                }
            }
        }
    }
}

/// Reads a whole response to a request made with `method` from `r`.
pub fn read_response<R: BufRead>(r: &mut R, method: &str) -> io::Result<Response> {
    let head = read_head(r)?;
    let framing = framing(method, &head)?;
    let body = BodyReader::new(&mut *r, framing).read_all()?;
    Ok(Response {
        head,
        body,
        local_addr: None,
    })
}

/// The method of a raw request: what precedes the first space.
pub fn method_of(raw: &[u8]) -> String {
    let end = raw.iter().position(|b| *b == b' ').unwrap_or(raw.len());
    String::from_utf8_lossy(&raw[..end]).into_owned()
}

/// Connects with [`IO_TIMEOUT`] for reads and writes.
pub fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    s.set_nodelay(true)?;
    Ok(s)
}

/// Sends `raw` as is and reads the response (no body if `raw` is a HEAD).
pub fn send_raw(addr: SocketAddr, raw: &[u8]) -> io::Result<Response> {
    let mut s = connect(addr)?;
    let local = s.local_addr().ok();
    s.write_all(raw)?;
    let mut r = BufReader::new(s);
    let mut resp = read_response(&mut r, &method_of(raw))?;
    resp.local_addr = local;
    Ok(resp)
}

/// Sends `req` and reads the response.
pub fn send(addr: SocketAddr, req: &Request) -> io::Result<Response> {
    send_raw(addr, &req.to_bytes(&addr.to_string()))
}

/// A response whose body is read as it arrives.
pub struct StreamingResponse {
    pub head: Head,
    pub body: BodyReader<BufReader<TcpStream>>,
    pub local_addr: Option<SocketAddr>,
}

impl StreamingResponse {
    /// Reads what has arrived of the body (at least one byte; empty at the
    /// end of the body).
    pub fn read_some(&mut self) -> io::Result<Vec<u8>> {
        let mut buf = vec![0u8; 64 * 1024];
        let n = self.body.read(&mut buf)?;
        buf.truncate(n);
        Ok(buf)
    }

    /// Reads until the body read so far ends with `needle` (or contains it);
    /// returns everything read. Fails at the end of the body.
    pub fn read_until_contains(&mut self, needle: &[u8]) -> io::Result<Vec<u8>> {
        let mut got = Vec::new();
        while !got.windows(needle.len()).any(|w| w == needle) {
            let part = self.read_some()?;
            if part.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "body ended before {:?}; got {:?}",
                        String::from_utf8_lossy(needle),
                        String::from_utf8_lossy(&got)
                    ),
                ));
            }
            got.extend_from_slice(&part);
        }
        Ok(got)
    }

    /// Reads the rest of the body.
    pub fn read_rest(&mut self) -> io::Result<Vec<u8>> {
        self.body.read_all()
    }

    /// Reads the body to its end, then whatever else the server sends
    /// until it closes the connection (nothing, for a well-framed response
    /// with `Connection: close`).
    pub fn read_after_body(mut self) -> io::Result<Vec<u8>> {
        self.body.read_all()?;
        let mut rest = Vec::new();
        self.body.into_inner().read_to_end(&mut rest)?;
        Ok(rest)
    }
}

/// Sends `req` and returns once the response head has arrived.
pub fn open(addr: SocketAddr, req: &Request) -> io::Result<StreamingResponse> {
    let mut s = connect(addr)?;
    let local = s.local_addr().ok();
    s.write_all(&req.to_bytes(&addr.to_string()))?;
    let mut r = BufReader::new(s);
    let head = read_head(&mut r)?;
    let framing = framing(&req.method, &head)?;
    Ok(StreamingResponse {
        head,
        body: BodyReader::new(r, framing),
        local_addr: local,
    })
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
