//! A streaming `multipart/form-data` parser (RFC 7578, RFC 2046) over any
//! [`Read`]: [`Multipart`] and its [`Part`]s.
//!
//! Pure, safe code in bounded memory: one buffer of a fixed size holds the
//! bytes being looked at, whatever the input; part bodies are handed out in
//! pieces as they arrive. It never panics, whatever the input.

use std::fmt;
use std::io::{self, Read};

use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderName, HeaderValue};

use super::body::{MediaType, announced_length, parse_params};
use super::form_limits::{FormError, FormLimits};
use crate::pairs::Pairs;
use crate::{Request, RequestBody};

/// The longest boundary RFC 2046 allows.
const MAX_BOUNDARY: usize = 70;
/// The smallest buffer, whatever the limits.
const MIN_BUFFER: usize = 8 * 1024;
/// The largest header block allowed, whatever the limits.
const MAX_HEADER_SIZE: usize = 1 << 20;

/// A `multipart/form-data` body read as a sequence of [`Part`]s.
///
/// [`next_part`](Multipart::next_part) returns the parts one at a time; each
/// is read as a stream (with [`Part::read_chunk`] or [`Read`]) and what is
/// left of it is skipped when the next part is asked for.
/// [`Request::multipart`](crate::Request::multipart) makes one for a
/// request; [`Multipart::read_form`] collects the fields into memory and
/// streams the files to an [`UploadSink`](crate::extract::UploadSink).
///
/// The limits of [`FormLimits`] that apply here: [`body`](FormLimits::body)
/// (bytes read in all), [`fields`](FormLimits::fields) (parts) and
/// [`header_size`](FormLimits::header_size) (the header block of a part),
/// each failing with a [`FormError`] that answers 413. A body that is not
/// valid multipart fails with [`FormError::Malformed`] (400): no boundary
/// found, a part without a `form-data` `Content-Disposition` that names it,
/// a body that ends before the closing boundary.
///
/// ```
/// use std::io::Read;
/// use app_sdk::extract::{FormLimits, Multipart};
///
/// let body = "--XyZ\r\n\
///     Content-Disposition: form-data; name=\"title\"\r\n\r\n\
///     Hello\r\n\
///     --XyZ\r\n\
///     Content-Disposition: form-data; name=\"doc\"; filename=\"a.txt\"\r\n\
///     Content-Type: text/plain\r\n\r\n\
///     file body\r\n\
///     --XyZ--\r\n";
/// let mut mp = Multipart::new(body.as_bytes(), "XyZ", FormLimits::default()).unwrap();
///
/// let mut part = mp.next_part().unwrap().unwrap();
/// assert_eq!(part.name(), "title");
/// assert_eq!(part.filename(), None);
/// let mut text = String::new();
/// part.read_to_string(&mut text).unwrap();
/// assert_eq!(text, "Hello");
///
/// let mut part = mp.next_part().unwrap().unwrap();
/// assert_eq!(part.filename(), Some("a.txt"));
/// assert_eq!(part.content_type(), Some("text/plain"));
/// assert_eq!(part.read_chunk().unwrap(), Some(&b"file body"[..]));
/// assert_eq!(part.read_chunk().unwrap(), None);
///
/// assert!(mp.next_part().unwrap().is_none());
/// ```
pub struct Multipart<R> {
    reader: R,
    /// `\r\n--` and the boundary.
    delimiter: Box<[u8]>,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    eof: bool,
    state: State,
    limits: FormLimits,
    read_total: u64,
    parts: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// In the preamble, before the first boundary.
    Preamble,
    /// In the body of a part.
    Body,
    /// Just after a boundary: a part or the end follows.
    AfterDelimiter,
    /// After the closing boundary.
    Done,
    /// After an error: the body can be read no further.
    Failed,
}

impl<R: Read> Multipart<R> {
    /// A parser of the body read from `reader`, whose parts are separated by
    /// `boundary` (as given in the `Content-Type`, without the leading
    /// `--`). An invalid boundary fails with [`FormError::Malformed`].
    ///
    /// ```
    /// use app_sdk::extract::{FormLimits, Multipart};
    ///
    /// assert!(Multipart::new(&b""[..], "ok-boundary", FormLimits::default()).is_ok());
    /// assert!(Multipart::new(&b""[..], "", FormLimits::default()).is_err());
    /// ```
    pub fn new(reader: R, boundary: &str, limits: FormLimits) -> Result<Multipart<R>, FormError> {
        check_boundary(boundary)?;
        let mut delimiter = b"\r\n--".to_vec();
        delimiter.extend_from_slice(boundary.as_bytes());
        let size = MIN_BUFFER.max(limits.header_size.min(MAX_HEADER_SIZE) + 8);
        let mut buf = vec![0; size].into_boxed_slice();
        // The first boundary may come first, without a CRLF before it:
        // start with one so that every boundary is a `\r\n--boundary`.
        buf[..2].copy_from_slice(b"\r\n");
        Ok(Multipart {
            reader,
            delimiter: delimiter.into_boxed_slice(),
            buf,
            start: 0,
            end: 2,
            eof: false,
            state: State::Preamble,
            limits,
            read_total: 0,
            parts: 0,
        })
    }

    /// The boundary of a `multipart/form-data` `Content-Type` value.
    ///
    /// ```
    /// use app_sdk::extract::Multipart;
    ///
    /// let ct = "multipart/form-data; boundary=\"----abc\"";
    /// assert_eq!(Multipart::<&[u8]>::boundary_of(ct).unwrap(), "----abc");
    /// assert!(Multipart::<&[u8]>::boundary_of("multipart/form-data").is_err());
    /// assert!(Multipart::<&[u8]>::boundary_of("text/plain; boundary=x").is_err());
    /// ```
    pub fn boundary_of(content_type: &str) -> Result<String, FormError> {
        let media = MediaType::parse(content_type);
        if media.essence != "multipart/form-data" {
            return Err(FormError::UnsupportedMediaType(media.essence));
        }
        let boundary = media
            .param("boundary")
            .ok_or_else(|| FormError::Malformed("the multipart body has no boundary".into()))?;
        check_boundary(boundary)?;
        Ok(boundary.to_owned())
    }

    /// The limits in force.
    pub fn limits(&self) -> &FormLimits {
        &self.limits
    }

    /// The next part, or `None` after the closing boundary. What is left of
    /// the previous part is skipped first.
    pub fn next_part(&mut self) -> Result<Option<Part<'_, R>>, FormError> {
        match self.advance() {
            Ok(Some(head)) => Ok(Some(Part { mp: self, head })),
            Ok(None) => Ok(None),
            Err(e) => {
                self.state = State::Failed;
                Err(e)
            }
        }
    }

    fn advance(&mut self) -> Result<Option<PartHead>, FormError> {
        loop {
            match self.state {
                State::Done => return Ok(None),
                State::Failed => {
                    return Err(FormError::Malformed(
                        "the multipart body failed to parse".into(),
                    ));
                }
                State::Preamble | State::Body => while self.body_chunk()?.is_some() {},
                State::AfterDelimiter => {
                    self.need(2)?;
                    if self.buf[self.start..self.end].starts_with(b"--") {
                        self.start += 2;
                        self.state = State::Done;
                        return Ok(None);
                    }
                    // Transport padding, then the CRLF ending the boundary.
                    loop {
                        self.need(1)?;
                        match self.buf[self.start] {
                            b' ' | b'\t' => self.start += 1,
                            _ => break,
                        }
                    }
                    self.need(2)?;
                    if !self.buf[self.start..self.end].starts_with(b"\r\n") {
                        return Err(FormError::Malformed(
                            "a multipart boundary is not followed by CRLF".into(),
                        ));
                    }
                    self.start += 2;
                    if self.parts >= self.limits.fields {
                        return Err(FormError::TooManyFields {
                            limit: self.limits.fields,
                        });
                    }
                    let head = self.read_head()?;
                    self.parts += 1;
                    self.state = State::Body;
                    return Ok(Some(head));
                }
            }
        }
    }

    /// Makes sure `n` bytes are buffered, failing if the body ends first.
    fn need(&mut self, n: usize) -> Result<(), FormError> {
        while self.end - self.start < n {
            if !self.fill()? {
                return Err(truncated());
            }
        }
        Ok(())
    }

    /// Reads more of the body into the buffer, moving what is left to its
    /// start. `Ok(false)` at the end of the body or when the buffer is full.
    fn fill(&mut self) -> Result<bool, FormError> {
        if self.eof {
            return Ok(false);
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            return Ok(false);
        }
        loop {
            match self.reader.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    let n = n.min(self.buf.len() - self.end);
                    self.read_total = self.read_total.saturating_add(n as u64);
                    if self.read_total > self.limits.body {
                        return Err(FormError::BodyTooLarge {
                            limit: self.limits.body,
                        });
                    }
                    self.end += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(FormError::Read(e)),
            }
        }
    }

    /// The next piece of the current part's body (or of the preamble) as a
    /// range of the buffer, or `None` once the boundary ending it has been
    /// read.
    fn body_chunk(&mut self) -> Result<Option<(usize, usize)>, FormError> {
        loop {
            let window = &self.buf[self.start..self.end];
            if let Some(i) = find(window, &self.delimiter) {
                if i > 0 {
                    let range = (self.start, self.start + i);
                    self.start += i;
                    return Ok(Some(range));
                }
                self.start += self.delimiter.len();
                self.state = State::AfterDelimiter;
                return Ok(None);
            }
            // Bytes that cannot be the start of a boundary are part data.
            let keep = self.delimiter.len() - 1;
            if window.len() > keep {
                let n = window.len() - keep;
                let range = (self.start, self.start + n);
                self.start += n;
                return Ok(Some(range));
            }
            if !self.fill()? {
                return Err(truncated());
            }
        }
    }

    /// Reads and parses the header block of a part.
    fn read_head(&mut self) -> Result<PartHead, FormError> {
        let max = self.limits.header_size.min(MAX_HEADER_SIZE);
        loop {
            let window = &self.buf[self.start..self.end];
            if window.starts_with(b"\r\n") {
                self.start += 2;
                return parse_head(&[]);
            }
            if let Some(i) = find(window, b"\r\n\r\n") {
                if i + 4 > max {
                    return Err(FormError::HeaderTooLarge { limit: max });
                }
                let head = parse_head(&window[..i + 2])?;
                self.start += i + 4;
                return Ok(head);
            }
            if window.len() >= max {
                return Err(FormError::HeaderTooLarge { limit: max });
            }
            if !self.fill()? {
                return Err(truncated());
            }
        }
    }
}

impl<R> fmt::Debug for Multipart<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Multipart")
            .field("state", &self.state)
            .field("parts", &self.parts)
            .field("read", &self.read_total)
            .finish_non_exhaustive()
    }
}

fn truncated() -> FormError {
    FormError::Malformed("the multipart body ends before its closing boundary".into())
}

/// Checks a boundary against RFC 2046: 1 to 70 of its `bchars`, not ending
/// with a space.
fn check_boundary(boundary: &str) -> Result<(), FormError> {
    let ok = !boundary.is_empty()
        && boundary.len() <= MAX_BOUNDARY
        && !boundary.ends_with(' ')
        && boundary
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(FormError::Malformed(format!(
            "the multipart boundary {boundary:?} is not valid"
        )))
    }
}

/// The first position of `needle` in `hay`.
///
/// Candidates start at bytes equal to `needle[0]`; as the needles used here
/// hold that byte only once (a boundary holds no CR), the bytes compared at
/// one candidate are never compared again, so a search is linear.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, _) = needle.split_first()?;
    let last_start = hay.len().checked_sub(needle.len())?;
    let mut i = 0;
    while i <= last_start {
        let p = hay[i..=last_start].iter().position(|&b| b == first)?;
        i += p;
        if &hay[i..i + needle.len()] == needle {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// What the header block of a part says.
#[derive(Debug)]
struct PartHead {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
    headers: HeaderMap,
}

/// Parses header lines, each ending with CRLF.
fn parse_head(block: &[u8]) -> Result<PartHead, FormError> {
    let malformed = |what: &str| FormError::Malformed(format!("a multipart part {what}"));
    let mut headers = HeaderMap::new();
    let mut lines = block.split(|&b| b == b'\n');
    // The block ends with CRLF, so the last piece is empty.
    let _ = lines.next_back();
    for line in lines {
        let line = line
            .strip_suffix(b"\r")
            .ok_or_else(|| malformed("has a header line ending without CRLF"))?;
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or_else(|| malformed("has a header line without a colon"))?;
        let name = HeaderName::from_bytes(&line[..colon])
            .map_err(|_| malformed("has an invalid header name"))?;
        let value = trim_ows(&line[colon + 1..]);
        let value =
            HeaderValue::from_bytes(value).map_err(|_| malformed("has an invalid header value"))?;
        headers.append(name, value);
    }
    let disposition = headers
        .get(http::header::CONTENT_DISPOSITION)
        .ok_or_else(|| malformed("has no Content-Disposition"))?;
    let disposition = String::from_utf8_lossy(disposition.as_bytes());
    let (kind, params) = disposition.split_once(';').unwrap_or((&disposition, ""));
    if !kind.trim().eq_ignore_ascii_case("form-data") {
        return Err(malformed("is not form-data"));
    }
    let params: Pairs = parse_params(params).into_iter().collect();
    let param = |n: &str| params.get(n).cloned();
    let name = param("name").ok_or_else(|| malformed("has no name"))?;
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    Ok(PartHead {
        name,
        filename: param("filename"),
        content_type,
        headers,
    })
}

fn trim_ows(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

/// One part of a [`Multipart`] body: its headers, and its body read as a
/// stream.
///
/// [`read_chunk`](Part::read_chunk) hands out the body in pieces straight
/// from the parser's buffer; [`Read`] copies them. A read error of the
/// [`Read`] implementation wraps the [`FormError`], which
/// [`FormError::from_io`] gets back.
pub struct Part<'a, R> {
    mp: &'a mut Multipart<R>,
    head: PartHead,
}

impl<R: Read> Part<'_, R> {
    /// The field name, from the `name` parameter of `Content-Disposition`.
    pub fn name(&self) -> &str {
        &self.head.name
    }

    /// The file name the client gave, from the `filename` parameter of
    /// `Content-Disposition`, if any: a part with one is a file. Never use it
    /// as a path as it is; see
    /// [`FileInfo::safe_filename`](crate::extract::FileInfo::safe_filename).
    pub fn filename(&self) -> Option<&str> {
        self.head.filename.as_deref()
    }

    /// The part's `Content-Type`, if any.
    pub fn content_type(&self) -> Option<&str> {
        self.head.content_type.as_deref()
    }

    /// All headers of the part.
    pub fn headers(&self) -> &HeaderMap {
        &self.head.headers
    }

    /// The next piece of the part's body, or `None` at its end.
    pub fn read_chunk(&mut self) -> Result<Option<&[u8]>, FormError> {
        if self.mp.state != State::Body {
            return Ok(None);
        }
        match self.mp.body_chunk() {
            Ok(Some((from, to))) => Ok(Some(&self.mp.buf[from..to])),
            Ok(None) => Ok(None),
            Err(e) => {
                self.mp.state = State::Failed;
                Err(e)
            }
        }
    }
}

impl<R: Read> Read for Part<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() || self.mp.state != State::Body {
            return Ok(0);
        }
        // Hand out at most `out.len()` bytes: put the rest back.
        match self.read_chunk() {
            Ok(Some(chunk)) => {
                let n = chunk.len().min(out.len());
                out[..n].copy_from_slice(&chunk[..n]);
                let unread = chunk.len() - n;
                self.mp.start -= unread;
                Ok(n)
            }
            Ok(None) => Ok(0),
            Err(e) => Err(e.into_io()),
        }
    }
}

impl<R> fmt::Debug for Part<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Part")
            .field("name", &self.head.name)
            .field("filename", &self.head.filename)
            .field("content_type", &self.head.content_type)
            .finish_non_exhaustive()
    }
}

impl Request {
    /// A streaming parser of a `multipart/form-data` body, for apps that
    /// handle each part themselves (see [`Multipart`]). Fails with 415 when
    /// the body is not multipart, 400 when the boundary is missing or bad,
    /// and 413 when the body is announced larger than [`FormLimits::body`].
    ///
    /// ```
    /// use std::io::Read;
    /// use app_sdk::{Config, Environ, Request, RequestBody};
    /// use app_sdk::extract::FormLimits;
    ///
    /// let body = "--b\r\nContent-Disposition: form-data; name=n\r\n\r\n42\r\n--b--\r\n";
    /// let env = Environ::from_iter([("CONTENT_TYPE", "multipart/form-data; boundary=b")]);
    /// let mut req = Request::new(env, Config::new(), RequestBody::from_bytes(body));
    /// let mut mp = req.multipart(&FormLimits::default()).unwrap();
    /// while let Some(mut part) = mp.next_part().unwrap() {
    ///     let mut value = String::new();
    ///     part.read_to_string(&mut value).unwrap();
    ///     assert_eq!((part.name(), value.as_str()), ("n", "42"));
    /// }
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "multipart")))]
    pub fn multipart(
        &mut self,
        limits: &FormLimits,
    ) -> Result<Multipart<&mut RequestBody>, FormError> {
        let content_type = self
            .headers()
            .get(CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        let boundary = Multipart::<&mut RequestBody>::boundary_of(&content_type)?;
        if announced_length(self).is_some_and(|len| len > limits.body) {
            return Err(FormError::BodyTooLarge { limit: limits.body });
        }
        Multipart::new(self.body_mut(), &boundary, *limits)
    }
}

#[cfg(test)]
mod tests;
