//! The protocol between an Apache child and a daemon process, version 4.
//!
//! `docs/protocol.md` describes it in full; this module is its only codec,
//! used by both sides. In short:
//!
//! * One UNIX stream connection carries one request. Each side first sends
//!   an 8-byte [preface] (`RUSTGI` and the version as a big-endian `u16`).
//! * Then frames: an 8-byte header `[kind: u8][flags: u8 = 0][reserved: u16 =
//!   0][length: u32]` and `length` bytes of payload. All integers are
//!   big-endian. Strings are a `u32` length and the bytes; a pair list is a
//!   `u32` count and that many (name, value) strings.
//! * The child sends [`Kind::Request`], then body bytes only when the daemon
//!   asks for them ([`Kind::Read`] → [`Kind::Body`], [`Kind::BodyEnd`] or
//!   [`Kind::BodyError`]; [`Kind::ReadNow`] → the same or
//!   [`Kind::BodyLater`]). The daemon answers [`Kind::Accepted`] (with its
//!   next frames) or [`Kind::Reject`], then [`Kind::Head`], [`Kind::Data`],
//!   [`Kind::Flush`], [`Kind::File`] (a range of a file whose descriptor
//!   comes with the frame), [`Kind::Log`] and finally [`Kind::End`].
//!
//! Everything here is safe, pure code: decoders take byte slices and never
//! panic or allocate more than the limits allow, whatever the input (the
//! `fuzz/` target `protocol_decode` and [`exercise_decoders`] check that).

use std::fmt;
use std::io::{self, IoSlice, Read, Write};

use crate::pairs::Pairs;

#[cfg(test)]
mod tests;

/// The first six bytes of a preface.
pub const MAGIC: [u8; 6] = *b"RUSTGI";
/// The protocol version this module speaks.
pub const VERSION: u16 = 4;
/// The length of a preface: [`MAGIC`] and the version.
pub const PREFACE_LEN: usize = 8;
/// The length of a frame header.
pub const HEADER_LEN: usize = 8;
/// The largest payload of REQUEST, HEAD, REJECT and LOG frames (1 MiB).
pub const MAX_META_PAYLOAD: u32 = 1 << 20;
/// The largest payload of BODY and DATA frames (256 KiB).
pub const MAX_DATA_PAYLOAD: u32 = 256 << 10;
/// The longest string inside a payload (1 MiB).
pub const MAX_STRING: u32 = 1 << 20;
/// The most pairs in one pair list.
pub const MAX_PAIRS: u32 = 10_000;
/// The most body bytes one READ may ask for (256 KiB).
pub const MAX_READ: u32 = 256 << 10;
/// The highest log level of a LOG frame (Apache's `APLOG_TRACE8`).
pub const MAX_LOG_LEVEL: u8 = 15;

/// The kind of a frame: its first header byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Kind {
    /// Child → daemon: the request (see [`RequestHead`]).
    Request = 0x01,
    /// Child → daemon: body bytes, only in answer to a READ.
    Body = 0x02,
    /// Child → daemon: the body is over (in answer to a READ).
    BodyEnd = 0x03,
    /// Child → daemon: `u16 status`: reading the client's body failed.
    BodyError = 0x04,
    /// Child → daemon: in answer to a READ_NOW, no body bytes have come yet.
    BodyLater = 0x05,
    /// Daemon → child: `u32 pid`: a worker thread took the request.
    Accepted = 0x10,
    /// Daemon → child: `u32 max`: send up to `max` body bytes.
    Read = 0x11,
    /// Daemon → child: the status and headers (see [`ResponseHead`]).
    Head = 0x12,
    /// Daemon → child: response body bytes.
    Data = 0x13,
    /// Daemon → child: push what came so far to the client now.
    Flush = 0x14,
    /// Daemon → child: `u8 outcome`: the request is over (see [`Outcome`]).
    End = 0x15,
    /// Daemon → child: a log line of the app for this request (see [`LogLine`]).
    Log = 0x16,
    /// Daemon → child: the daemon refuses the request (see [`Reject`]).
    Reject = 0x17,
    /// Daemon → child: `u32 max`: send up to `max` body bytes that have
    /// come, without waiting for more (the daemon reads ahead).
    ReadNow = 0x18,
    /// Daemon → child: `u64 offset`, `u64 length`: send this range of the
    /// file whose descriptor comes with the frame (see [`FileRange`]).
    File = 0x19,
}

impl Kind {
    /// Every kind, in numeric order.
    pub const ALL: [Kind; 15] = [
        Kind::Request,
        Kind::Body,
        Kind::BodyEnd,
        Kind::BodyError,
        Kind::BodyLater,
        Kind::Accepted,
        Kind::Read,
        Kind::Head,
        Kind::Data,
        Kind::Flush,
        Kind::End,
        Kind::Log,
        Kind::Reject,
        Kind::ReadNow,
        Kind::File,
    ];

    /// The kind numbered `byte`, if there is one.
    pub fn from_u8(byte: u8) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| *k as u8 == byte)
    }

    /// The largest payload a frame of this kind may carry; for the kinds with
    /// a fixed-size payload, that size.
    pub fn max_payload(self) -> u32 {
        match self {
            Kind::Request | Kind::Head | Kind::Reject | Kind::Log => MAX_META_PAYLOAD,
            Kind::Body | Kind::Data => MAX_DATA_PAYLOAD,
            Kind::BodyEnd | Kind::BodyLater | Kind::Flush => 0,
            Kind::End => 1,
            Kind::BodyError => 2,
            Kind::Accepted | Kind::Read | Kind::ReadNow => 4,
            Kind::File => 16,
        }
    }

    /// Whether the payload of this kind has exactly [`max_payload`](Self::max_payload) bytes.
    pub fn is_fixed_size(self) -> bool {
        !matches!(
            self,
            Kind::Request | Kind::Head | Kind::Reject | Kind::Log | Kind::Body | Kind::Data
        )
    }

    /// Whether the child (Apache) sends this kind; otherwise the daemon does.
    pub fn from_child(self) -> bool {
        (self as u8) < 0x10
    }

    /// The name used in `docs/protocol.md` and in error messages.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Request => "REQUEST",
            Kind::Body => "BODY",
            Kind::BodyEnd => "BODY_END",
            Kind::BodyError => "BODY_ERROR",
            Kind::BodyLater => "BODY_LATER",
            Kind::Accepted => "ACCEPTED",
            Kind::Read => "READ",
            Kind::Head => "HEAD",
            Kind::Data => "DATA",
            Kind::Flush => "FLUSH",
            Kind::End => "END",
            Kind::Log => "LOG",
            Kind::Reject => "REJECT",
            Kind::ReadNow => "READ_NOW",
            Kind::File => "FILE",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why bytes are not a valid preface, frame or payload.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The preface does not start with [`MAGIC`].
    BadMagic([u8; 6]),
    /// The preface names a version this side does not speak.
    UnsupportedVersion(u16),
    /// A frame header names an unknown kind.
    UnknownKind(u8),
    /// A frame header has non-zero flags.
    NonZeroFlags { kind: Kind, flags: u8 },
    /// A frame header has a non-zero reserved field.
    NonZeroReserved { kind: Kind, reserved: u16 },
    /// A payload is longer than its kind allows.
    PayloadTooLarge { kind: Kind, len: u64, limit: u32 },
    /// A fixed-size payload is shorter than its kind needs.
    WrongSize { kind: Kind, len: u64, expected: u32 },
    /// A payload ends in the middle of a field.
    Truncated { kind: Kind, field: &'static str },
    /// A payload has bytes after its last field.
    TrailingBytes { kind: Kind, extra: usize },
    /// A string is longer than [`MAX_STRING`].
    StringTooLong {
        kind: Kind,
        field: &'static str,
        len: u64,
    },
    /// A pair list holds more than [`MAX_PAIRS`] pairs.
    TooManyPairs {
        kind: Kind,
        field: &'static str,
        count: u64,
    },
    /// A READ asks for 0 bytes or more than [`MAX_READ`].
    BadReadSize(u32),
    /// A status outside the range its frame allows.
    BadStatus { kind: Kind, status: u16 },
    /// A REQUEST's flags byte has bits other than bit 0 set.
    BadRequestFlags(u8),
    /// An END's outcome is neither 0 nor 1.
    BadOutcome(u8),
    /// A LOG's level is above [`MAX_LOG_LEVEL`].
    BadLogLevel(u8),
    /// A FILE's range is empty or ends past the largest file offset.
    BadFileRange { offset: u64, length: u64 },
    /// A frame of this kind came where the protocol does not allow it.
    Unexpected { kind: Kind, expected: &'static str },
}

fn limit_text(n: u64) -> String {
    if n >= 1 << 20 && n % (1 << 20) == 0 {
        format!("{n} bytes ({} MiB)", n >> 20)
    } else if n >= 1 << 10 && n % (1 << 10) == 0 {
        format!("{n} bytes ({} KiB)", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::BadMagic(m) => write!(
                f,
                "the preface does not start with \"RUSTGI\" (got {:?}): not a rustgi peer",
                String::from_utf8_lossy(m)
            ),
            ProtocolError::UnsupportedVersion(v) => write!(
                f,
                "the peer speaks rustgi protocol version {v}; this side speaks version {VERSION}"
            ),
            ProtocolError::UnknownKind(k) => write!(f, "unknown frame kind 0x{k:02x}"),
            ProtocolError::NonZeroFlags { kind, flags } => {
                write!(f, "{kind} frame with non-zero flags 0x{flags:02x}")
            }
            ProtocolError::NonZeroReserved { kind, reserved } => {
                write!(
                    f,
                    "{kind} frame with non-zero reserved field 0x{reserved:04x}"
                )
            }
            ProtocolError::PayloadTooLarge { kind, len, limit } => write!(
                f,
                "{kind} payload of {len} bytes exceeds the limit of {}",
                limit_text(u64::from(*limit))
            ),
            ProtocolError::WrongSize {
                kind,
                len,
                expected,
            } => write!(
                f,
                "{kind} payload of {len} bytes, but it must be exactly {expected} bytes"
            ),
            ProtocolError::Truncated { kind, field } => {
                write!(f, "{kind} payload is truncated in its {field}")
            }
            ProtocolError::TrailingBytes { kind, extra } => {
                write!(f, "{kind} payload has {extra} bytes after its last field")
            }
            ProtocolError::StringTooLong { kind, field, len } => write!(
                f,
                "{kind} {field} string of {len} bytes exceeds the string limit of {}",
                limit_text(u64::from(MAX_STRING))
            ),
            ProtocolError::TooManyPairs { kind, field, count } => write!(
                f,
                "{kind} {field} holds {count} pairs, over the limit of {MAX_PAIRS} pairs per list"
            ),
            ProtocolError::BadReadSize(n) => write!(
                f,
                "READ asks for {n} bytes; it must ask for 1 to {}",
                limit_text(u64::from(MAX_READ))
            ),
            ProtocolError::BadStatus { kind, status } => {
                let range = if *kind == Kind::Head {
                    "200..599"
                } else {
                    "400..599"
                };
                write!(f, "{kind} status {status} is outside {range}")
            }
            ProtocolError::BadRequestFlags(b) => write!(
                f,
                "REQUEST flags 0x{b:02x} have bits other than bit 0 (has body) set"
            ),
            ProtocolError::BadOutcome(o) => write!(f, "END outcome {o} is neither 0 nor 1"),
            ProtocolError::BadLogLevel(l) => {
                write!(f, "LOG level {l} is above {MAX_LOG_LEVEL}")
            }
            ProtocolError::BadFileRange { offset, length } => write!(
                f,
                "FILE range of {length} bytes at offset {offset} is empty or ends past {MAX_FILE_END}"
            ),
            ProtocolError::Unexpected { kind, expected } => {
                write!(f, "got a {kind} frame where {expected} was expected")
            }
        }
    }
}

impl std::error::Error for ProtocolError {}

impl From<ProtocolError> for io::Error {
    fn from(e: ProtocolError) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, e)
    }
}

/// The preface each side sends first.
pub fn preface() -> [u8; PREFACE_LEN] {
    let mut p = [0; PREFACE_LEN];
    p[..6].copy_from_slice(&MAGIC);
    p[6..].copy_from_slice(&VERSION.to_be_bytes());
    p
}

/// Checks the peer's preface.
pub fn check_preface(preface: &[u8; PREFACE_LEN]) -> Result<(), ProtocolError> {
    let mut magic = [0; 6];
    magic.copy_from_slice(&preface[..6]);
    if magic != MAGIC {
        return Err(ProtocolError::BadMagic(magic));
    }
    let version = u16::from_be_bytes([preface[6], preface[7]]);
    if version != VERSION {
        return Err(ProtocolError::UnsupportedVersion(version));
    }
    Ok(())
}

/// The header of a frame of `kind` with a payload of `len` bytes. It does
/// not check `len` against the kind's limit (see [`decode_header`]).
pub fn frame_header(kind: Kind, len: u32) -> [u8; HEADER_LEN] {
    let mut h = [0; HEADER_LEN];
    h[0] = kind as u8;
    h[4..].copy_from_slice(&len.to_be_bytes());
    h
}

/// Decodes a frame header: its kind and payload length, checked against the
/// kind's limit (and, for fixed-size kinds, its exact size).
pub fn decode_header(header: &[u8; HEADER_LEN]) -> Result<(Kind, u32), ProtocolError> {
    let kind = Kind::from_u8(header[0]).ok_or(ProtocolError::UnknownKind(header[0]))?;
    if header[1] != 0 {
        return Err(ProtocolError::NonZeroFlags {
            kind,
            flags: header[1],
        });
    }
    let reserved = u16::from_be_bytes([header[2], header[3]]);
    if reserved != 0 {
        return Err(ProtocolError::NonZeroReserved { kind, reserved });
    }
    let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
    check_len(kind, len as usize)?;
    Ok((kind, len))
}

/// Checks a payload length against the limits of `kind`.
fn check_len(kind: Kind, len: usize) -> Result<(), ProtocolError> {
    let limit = kind.max_payload();
    if len > limit as usize {
        return Err(ProtocolError::PayloadTooLarge {
            kind,
            len: len as u64,
            limit,
        });
    }
    if kind.is_fixed_size() && len != limit as usize {
        return Err(ProtocolError::WrongSize {
            kind,
            len: len as u64,
            expected: limit,
        });
    }
    Ok(())
}

/// Appends a whole frame (header and payload) to `out`; fails, leaving `out`
/// as it was, when the payload breaks the kind's limit.
pub fn encode_frame(out: &mut Vec<u8>, kind: Kind, payload: &[u8]) -> Result<(), ProtocolError> {
    check_len(kind, payload.len())?;
    out.extend_from_slice(&frame_header(kind, payload.len() as u32));
    out.extend_from_slice(payload);
    Ok(())
}

/// Writes a whole frame to `w` (header and payload, one vectored write when
/// the writer takes it all). A payload over the kind's limit is an
/// `InvalidInput` error and nothing is written.
pub fn write_frame<W: Write + ?Sized>(w: &mut W, kind: Kind, payload: &[u8]) -> io::Result<()> {
    check_len(kind, payload.len()).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let header = frame_header(kind, payload.len() as u32);
    let (mut h, mut p) = (&header[..], payload);
    while !h.is_empty() || !p.is_empty() {
        let n = match w.write_vectored(&[IoSlice::new(h), IoSlice::new(p)]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let from_h = n.min(h.len());
        h = &h[from_h..];
        p = &p[n - from_h..];
    }
    Ok(())
}

/// A frame being built at the end of an output buffer: appends fields,
/// refusing any that would take the payload past its kind's limit before
/// copying a byte of it.
struct Builder<'o> {
    out: &'o mut Vec<u8>,
    start: usize,
    kind: Kind,
}

impl Builder<'_> {
    fn payload_len(&self) -> usize {
        self.out.len() - self.start - HEADER_LEN
    }

    fn reserve(&self, n: usize) -> Result<(), ProtocolError> {
        let len = self.payload_len() + n;
        let limit = self.kind.max_payload();
        if len > limit as usize {
            return Err(ProtocolError::PayloadTooLarge {
                kind: self.kind,
                len: len as u64,
                limit,
            });
        }
        Ok(())
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), ProtocolError> {
        self.reserve(bytes.len())?;
        self.out.extend_from_slice(bytes);
        Ok(())
    }

    fn put_str(&mut self, field: &'static str, s: &[u8]) -> Result<(), ProtocolError> {
        if s.len() > MAX_STRING as usize {
            return Err(ProtocolError::StringTooLong {
                kind: self.kind,
                field,
                len: s.len() as u64,
            });
        }
        self.reserve(4 + s.len())?;
        self.out.extend_from_slice(&(s.len() as u32).to_be_bytes());
        self.out.extend_from_slice(s);
        Ok(())
    }

    fn put_pairs<'a>(
        &mut self,
        field: &'static str,
        pairs: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
    ) -> Result<(), ProtocolError> {
        self.reserve(4)?;
        let count_at = self.out.len();
        self.out.extend_from_slice(&[0; 4]);
        let mut count: u64 = 0;
        for (name, value) in pairs {
            count += 1;
            if count > u64::from(MAX_PAIRS) {
                return Err(ProtocolError::TooManyPairs {
                    kind: self.kind,
                    field,
                    count,
                });
            }
            self.put_str(field, name)?;
            self.put_str(field, value)?;
        }
        self.out[count_at..count_at + 4].copy_from_slice(&(count as u32).to_be_bytes());
        Ok(())
    }
}

/// Builds one frame at the end of `out`: a placeholder header, the payload
/// `body` appends, then the real length; on any error `out` is restored.
fn build_frame(
    out: &mut Vec<u8>,
    kind: Kind,
    body: impl FnOnce(&mut Builder<'_>) -> Result<(), ProtocolError>,
) -> Result<(), ProtocolError> {
    let start = out.len();
    out.extend_from_slice(&frame_header(kind, 0));
    let mut builder = Builder { out, start, kind };
    let result = body(&mut builder);
    let len = builder.payload_len();
    match result.and_then(|()| check_len(kind, len)) {
        Ok(()) => {
            out[start + 4..start + HEADER_LEN].copy_from_slice(&(len as u32).to_be_bytes());
            Ok(())
        }
        Err(e) => {
            out.truncate(start);
            Err(e)
        }
    }
}

/// A reader over one payload that turns running out of bytes into
/// [`ProtocolError::Truncated`].
struct Cursor<'a> {
    kind: Kind,
    buf: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn new(kind: Kind, payload: &'a [u8]) -> Result<Cursor<'a>, ProtocolError> {
        check_len(kind, payload.len())?;
        Ok(Cursor { kind, buf: payload })
    }

    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], ProtocolError> {
        if self.buf.len() < n {
            return Err(ProtocolError::Truncated {
                kind: self.kind,
                field,
            });
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], ProtocolError> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N, field)?);
        Ok(a)
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, ProtocolError> {
        Ok(self.array::<1>(field)?[0])
    }

    fn u16(&mut self, field: &'static str) -> Result<u16, ProtocolError> {
        Ok(u16::from_be_bytes(self.array(field)?))
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, ProtocolError> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    fn u64(&mut self, field: &'static str) -> Result<u64, ProtocolError> {
        Ok(u64::from_be_bytes(self.array(field)?))
    }

    fn string(&mut self, field: &'static str) -> Result<&'a [u8], ProtocolError> {
        let len = self.u32(field)?;
        if len > MAX_STRING {
            return Err(ProtocolError::StringTooLong {
                kind: self.kind,
                field,
                len: u64::from(len),
            });
        }
        self.take(len as usize, field)
    }

    fn pairs(&mut self, field: &'static str) -> Result<Pairs, ProtocolError> {
        let count = self.u32(field)?;
        if count > MAX_PAIRS {
            return Err(ProtocolError::TooManyPairs {
                kind: self.kind,
                field,
                count: u64::from(count),
            });
        }
        // Each pair takes at least 8 bytes, so this bounds the reservation
        // by what the payload can hold.
        let entries = (count as usize).min(self.buf.len() / 8);
        let mut pairs = Pairs::with_capacity(self.buf.len().min(64 << 10), entries);
        for _ in 0..count {
            let name = self.string(field)?;
            let value = self.string(field)?;
            pairs.push(name, value);
        }
        Ok(pairs)
    }

    fn finish(self) -> Result<(), ProtocolError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(ProtocolError::TrailingBytes {
                kind: self.kind,
                extra: self.buf.len(),
            })
        }
    }
}

/// Bit 0 of a REQUEST's flags: the request has a body.
const REQUEST_HAS_BODY: u8 = 1;

/// Appends a complete REQUEST frame (header included) to `out`.
///
/// Fails, leaving `out` as it was, when the request breaks a limit (a
/// string over 1 MiB, a list over 10 000 pairs, a payload over 1 MiB).
pub fn encode_request(
    out: &mut Vec<u8>,
    queue_start_us: u64,
    has_body: bool,
    app_file: &[u8],
    init_config: &Pairs,
    environ: &Pairs,
    config: &Pairs,
) -> Result<(), ProtocolError> {
    build_frame(out, Kind::Request, |b| {
        b.put(&queue_start_us.to_be_bytes())?;
        b.put(&[if has_body { REQUEST_HAS_BODY } else { 0 }])?;
        b.put_str("app_file", app_file)?;
        b.put_pairs("init_config", init_config.iter())?;
        b.put_pairs("environ", environ.iter())?;
        b.put_pairs("config", config.iter())
    })
}

/// A decoded REQUEST payload.
#[derive(Debug, Clone)]
pub struct RequestHead {
    /// When Apache got the request, in µs since the Unix epoch.
    pub queue_start_us: u64,
    /// Whether the request has a body (the daemon may send READs).
    pub has_body: bool,
    /// The path of the app's shared library.
    pub app_file: Vec<u8>,
    /// The virtual host's `RustgiAppConfig`, for the app's init.
    pub init_config: Pairs,
    /// The CGI variables.
    pub environ: Pairs,
    /// The `RustgiAppConfig` in effect for the request's URL.
    pub config: Pairs,
}

impl RequestHead {
    /// Decodes a REQUEST payload.
    pub fn decode(payload: &[u8]) -> Result<RequestHead, ProtocolError> {
        let mut c = Cursor::new(Kind::Request, payload)?;
        let queue_start_us = c.u64("queue_start_us")?;
        let flags = c.u8("flags")?;
        if flags & !REQUEST_HAS_BODY != 0 {
            return Err(ProtocolError::BadRequestFlags(flags));
        }
        let app_file = c.string("app_file")?.to_vec();
        let init_config = c.pairs("init_config")?;
        let environ = c.pairs("environ")?;
        let config = c.pairs("config")?;
        c.finish()?;
        Ok(RequestHead {
            queue_start_us,
            has_body: flags & REQUEST_HAS_BODY != 0,
            app_file,
            init_config,
            environ,
            config,
        })
    }

    /// Appends this request as a complete frame (see [`encode_request`]).
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), ProtocolError> {
        encode_request(
            out,
            self.queue_start_us,
            self.has_body,
            &self.app_file,
            &self.init_config,
            &self.environ,
            &self.config,
        )
    }
}

fn check_status(kind: Kind, status: u16) -> Result<(), ProtocolError> {
    let range = if kind == Kind::Head {
        200..=599
    } else {
        400..=599
    };
    if range.contains(&status) {
        Ok(())
    } else {
        Err(ProtocolError::BadStatus { kind, status })
    }
}

/// Appends a complete HEAD frame. The status must be in 200..=599; header
/// names and values are passed as they are (the child checks them).
pub fn encode_head<'a>(
    out: &mut Vec<u8>,
    status: u16,
    headers: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
) -> Result<(), ProtocolError> {
    let kind = Kind::Head;
    check_status(kind, status)?;
    build_frame(out, kind, |b| {
        b.put(&status.to_be_bytes())?;
        b.put_pairs("headers", headers)
    })
}

/// A decoded HEAD payload.
#[derive(Debug, Clone)]
pub struct ResponseHead {
    /// The status, 200..=599.
    pub status: u16,
    /// The headers, as the app gave them (names in any case, repeats kept).
    pub headers: Pairs,
}

impl ResponseHead {
    /// Decodes a HEAD payload.
    pub fn decode(payload: &[u8]) -> Result<ResponseHead, ProtocolError> {
        let mut c = Cursor::new(Kind::Head, payload)?;
        let status = c.u16("status")?;
        check_status(Kind::Head, status)?;
        let headers = c.pairs("headers")?;
        c.finish()?;
        Ok(ResponseHead { status, headers })
    }
}

/// Appends a complete REJECT frame. The status must be in 400..=599.
pub fn encode_reject(
    out: &mut Vec<u8>,
    status: u16,
    retry_after_seconds: u32,
    reason: &[u8],
) -> Result<(), ProtocolError> {
    let kind = Kind::Reject;
    check_status(kind, status)?;
    build_frame(out, kind, |b| {
        b.put(&status.to_be_bytes())?;
        b.put(&retry_after_seconds.to_be_bytes())?;
        b.put_str("reason", reason)
    })
}

/// A decoded REJECT payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// The status to answer with, 400..=599.
    pub status: u16,
    /// The `Retry-After` to send, in seconds; 0 for none.
    pub retry_after_seconds: u32,
    /// Why, for the error log (not for the client).
    pub reason: Vec<u8>,
}

impl Reject {
    /// Decodes a REJECT payload.
    pub fn decode(payload: &[u8]) -> Result<Reject, ProtocolError> {
        let mut c = Cursor::new(Kind::Reject, payload)?;
        let status = c.u16("status")?;
        check_status(Kind::Reject, status)?;
        let retry_after_seconds = c.u32("retry_after_seconds")?;
        let reason = c.string("reason")?.to_vec();
        c.finish()?;
        Ok(Reject {
            status,
            retry_after_seconds,
            reason,
        })
    }
}

/// Appends a complete LOG frame. `level` must be at most [`MAX_LOG_LEVEL`].
pub fn encode_log(out: &mut Vec<u8>, level: u8, message: &[u8]) -> Result<(), ProtocolError> {
    let kind = Kind::Log;
    if level > MAX_LOG_LEVEL {
        return Err(ProtocolError::BadLogLevel(level));
    }
    build_frame(out, kind, |b| {
        b.put(&[level])?;
        b.put_str("message", message)
    })
}

/// A decoded LOG payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Apache's `APLOG_*` level, 0..=15.
    pub level: u8,
    /// The message, not necessarily UTF-8.
    pub message: Vec<u8>,
}

impl LogLine {
    /// Decodes a LOG payload.
    pub fn decode(payload: &[u8]) -> Result<LogLine, ProtocolError> {
        let mut c = Cursor::new(Kind::Log, payload)?;
        let level = c.u8("level")?;
        if level > MAX_LOG_LEVEL {
            return Err(ProtocolError::BadLogLevel(level));
        }
        let message = c.string("message")?.to_vec();
        c.finish()?;
        Ok(LogLine { level, message })
    }
}

/// How the app's handle ended, as END carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// 0: handle returned OK with a response.
    Ok = 0,
    /// 1: handle returned ERROR, or the daemon refused its response: before
    /// the body started the child answers 500, after it the child cuts the
    /// response short.
    Error = 1,
}

/// The length of an ACCEPTED frame, header included.
pub const ACCEPTED_LEN: usize = HEADER_LEN + 4;

/// Appends an ACCEPTED frame.
pub fn encode_accepted(out: &mut Vec<u8>, pid: u32) {
    out.extend_from_slice(&frame_header(Kind::Accepted, 4));
    out.extend_from_slice(&pid.to_be_bytes());
}

/// Decodes an ACCEPTED payload: the daemon's pid.
pub fn decode_accepted(payload: &[u8]) -> Result<u32, ProtocolError> {
    let mut c = Cursor::new(Kind::Accepted, payload)?;
    let pid = c.u32("pid")?;
    c.finish()?;
    Ok(pid)
}

/// Appends a READ frame; `max` must be in 1..=[`MAX_READ`].
pub fn encode_read(out: &mut Vec<u8>, max: u32) -> Result<(), ProtocolError> {
    encode_read_kind(out, Kind::Read, max)
}

/// Appends a READ_NOW frame; `max` must be in 1..=[`MAX_READ`].
pub fn encode_read_now(out: &mut Vec<u8>, max: u32) -> Result<(), ProtocolError> {
    encode_read_kind(out, Kind::ReadNow, max)
}

fn encode_read_kind(out: &mut Vec<u8>, kind: Kind, max: u32) -> Result<(), ProtocolError> {
    if max == 0 || max > MAX_READ {
        return Err(ProtocolError::BadReadSize(max));
    }
    out.extend_from_slice(&frame_header(kind, 4));
    out.extend_from_slice(&max.to_be_bytes());
    Ok(())
}

/// Decodes a READ payload: how many body bytes the daemon wants at most.
pub fn decode_read(payload: &[u8]) -> Result<u32, ProtocolError> {
    decode_read_kind(Kind::Read, payload)
}

/// Decodes a READ_NOW payload: how many body bytes the daemon wants at most.
pub fn decode_read_now(payload: &[u8]) -> Result<u32, ProtocolError> {
    decode_read_kind(Kind::ReadNow, payload)
}

fn decode_read_kind(kind: Kind, payload: &[u8]) -> Result<u32, ProtocolError> {
    let mut c = Cursor::new(kind, payload)?;
    let max = c.u32("max")?;
    c.finish()?;
    if max == 0 || max > MAX_READ {
        return Err(ProtocolError::BadReadSize(max));
    }
    Ok(max)
}

/// Appends an END frame.
pub fn encode_end(out: &mut Vec<u8>, outcome: Outcome) {
    out.extend_from_slice(&frame_header(Kind::End, 1));
    out.push(outcome as u8);
}

/// Decodes an END payload.
pub fn decode_end(payload: &[u8]) -> Result<Outcome, ProtocolError> {
    let mut c = Cursor::new(Kind::End, payload)?;
    let outcome = match c.u8("outcome")? {
        0 => Outcome::Ok,
        1 => Outcome::Error,
        other => return Err(ProtocolError::BadOutcome(other)),
    };
    c.finish()?;
    Ok(outcome)
}

/// Appends a BODY_ERROR frame; `status` must be in 400..=599.
pub fn encode_body_error(out: &mut Vec<u8>, status: u16) -> Result<(), ProtocolError> {
    check_status(Kind::BodyError, status)?;
    out.extend_from_slice(&frame_header(Kind::BodyError, 2));
    out.extend_from_slice(&status.to_be_bytes());
    Ok(())
}

/// Decodes a BODY_ERROR payload: the status the child answers with.
pub fn decode_body_error(payload: &[u8]) -> Result<u16, ProtocolError> {
    let mut c = Cursor::new(Kind::BodyError, payload)?;
    let status = c.u16("status")?;
    c.finish()?;
    check_status(Kind::BodyError, status)?;
    Ok(status)
}

/// The largest end (offset + length) of a FILE range: the largest file
/// offset Apache's `apr_off_t` holds.
pub const MAX_FILE_END: u64 = i64::MAX as u64;

/// A decoded FILE payload: the range of the file, whose descriptor came
/// with the frame (by `SCM_RIGHTS`), to send as response body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileRange {
    /// Where the range starts in the file.
    pub offset: u64,
    /// How many bytes, at least 1.
    pub length: u64,
}

impl FileRange {
    /// A range of `length` bytes at `offset`: at least one byte, ending at
    /// most at [`MAX_FILE_END`].
    pub fn new(offset: u64, length: u64) -> Result<FileRange, ProtocolError> {
        match offset.checked_add(length) {
            Some(end) if length > 0 && end <= MAX_FILE_END => Ok(FileRange { offset, length }),
            _ => Err(ProtocolError::BadFileRange { offset, length }),
        }
    }

    /// The encoded frame, header included, to send with the descriptor.
    pub fn encode(&self) -> [u8; HEADER_LEN + 16] {
        let mut frame = [0; HEADER_LEN + 16];
        frame[..HEADER_LEN].copy_from_slice(&frame_header(Kind::File, 16));
        frame[HEADER_LEN..HEADER_LEN + 8].copy_from_slice(&self.offset.to_be_bytes());
        frame[HEADER_LEN + 8..].copy_from_slice(&self.length.to_be_bytes());
        frame
    }

    /// Decodes a FILE payload.
    pub fn decode(payload: &[u8]) -> Result<FileRange, ProtocolError> {
        let mut c = Cursor::new(Kind::File, payload)?;
        let offset = c.u64("offset")?;
        let length = c.u64("length")?;
        c.finish()?;
        FileRange::new(offset, length)
    }
}

/// Any decoded frame, borrowing the payload for BODY and DATA.
#[derive(Debug, Clone)]
pub enum Frame<'a> {
    Request(RequestHead),
    Body(&'a [u8]),
    BodyEnd,
    BodyError(u16),
    BodyLater,
    Accepted(u32),
    Read(u32),
    ReadNow(u32),
    Head(ResponseHead),
    Data(&'a [u8]),
    Flush,
    End(Outcome),
    Log(LogLine),
    Reject(Reject),
    File(FileRange),
}

impl<'a> Frame<'a> {
    /// Decodes the payload of a frame of `kind`.
    pub fn decode(kind: Kind, payload: &'a [u8]) -> Result<Frame<'a>, ProtocolError> {
        check_len(kind, payload.len())?;
        Ok(match kind {
            Kind::Request => Frame::Request(RequestHead::decode(payload)?),
            Kind::Body => Frame::Body(payload),
            Kind::BodyEnd => Frame::BodyEnd,
            Kind::BodyError => Frame::BodyError(decode_body_error(payload)?),
            Kind::BodyLater => Frame::BodyLater,
            Kind::Accepted => Frame::Accepted(decode_accepted(payload)?),
            Kind::Read => Frame::Read(decode_read(payload)?),
            Kind::ReadNow => Frame::ReadNow(decode_read_now(payload)?),
            Kind::Head => Frame::Head(ResponseHead::decode(payload)?),
            Kind::Data => Frame::Data(payload),
            Kind::Flush => Frame::Flush,
            Kind::End => Frame::End(decode_end(payload)?),
            Kind::Log => Frame::Log(LogLine::decode(payload)?),
            Kind::Reject => Frame::Reject(Reject::decode(payload)?),
            Kind::File => Frame::File(FileRange::decode(payload)?),
        })
    }

    /// The kind of this frame.
    pub fn kind(&self) -> Kind {
        match self {
            Frame::Request(_) => Kind::Request,
            Frame::Body(_) => Kind::Body,
            Frame::BodyEnd => Kind::BodyEnd,
            Frame::BodyError(_) => Kind::BodyError,
            Frame::BodyLater => Kind::BodyLater,
            Frame::Accepted(_) => Kind::Accepted,
            Frame::Read(_) => Kind::Read,
            Frame::ReadNow(_) => Kind::ReadNow,
            Frame::Head(_) => Kind::Head,
            Frame::Data(_) => Kind::Data,
            Frame::Flush => Kind::Flush,
            Frame::End(_) => Kind::End,
            Frame::Log(_) => Kind::Log,
            Frame::Reject(_) => Kind::Reject,
            Frame::File(_) => Kind::File,
        }
    }
}

/// Reads a preface and frames from a byte stream, one at a time, into a
/// buffer it reuses. The buffer never grows past the largest payload
/// allowed, 1 MiB. It reads exactly what each frame needs, never ahead, so
/// the caller may also read a payload itself after [`read_header`](Self::read_header).
///
/// Protocol errors come back as `io::ErrorKind::InvalidData` errors holding a
/// [`ProtocolError`]; an end of stream as `UnexpectedEof`.
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    buf: Vec<u8>,
}

impl<R: Read> FrameReader<R> {
    pub fn new(inner: R) -> FrameReader<R> {
        FrameReader {
            inner,
            buf: Vec::new(),
        }
    }

    /// Reads and checks the peer's preface.
    pub fn read_preface(&mut self) -> io::Result<()> {
        let mut p = [0; PREFACE_LEN];
        self.inner.read_exact(&mut p)?;
        check_preface(&p)?;
        Ok(())
    }

    /// Reads a frame header only; the caller must then consume exactly the
    /// payload's length from [`get_mut`](Self::get_mut) (or call
    /// [`read_payload`](Self::read_payload)) before the next frame.
    pub fn read_header(&mut self) -> io::Result<(Kind, u32)> {
        let mut h = [0; HEADER_LEN];
        self.inner.read_exact(&mut h)?;
        Ok(decode_header(&h)?)
    }

    /// Reads a payload of `len` bytes (as returned by `read_header`) into
    /// the reused buffer.
    pub fn read_payload(&mut self, len: u32) -> io::Result<&[u8]> {
        if len > MAX_META_PAYLOAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "payload length over the protocol's largest limit",
            ));
        }
        let len = len as usize;
        self.buf.clear();
        self.buf.resize(len, 0);
        self.inner.read_exact(&mut self.buf)?;
        Ok(&self.buf)
    }

    /// Reads one whole frame: its kind and payload.
    pub fn read_frame(&mut self) -> io::Result<(Kind, &[u8])> {
        let (kind, len) = self.read_header()?;
        let payload = self.read_payload(len)?;
        Ok((kind, payload))
    }

    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    pub fn into_inner(self) -> R {
        self.inner
    }
}

/// The [`ProtocolError`] inside an error returned by [`FrameReader`], if it
/// is one.
pub fn protocol_error(e: &io::Error) -> Option<&ProtocolError> {
    e.get_ref().and_then(|inner| inner.downcast_ref())
}

/// Runs every decoder over `data` and checks what decodes re-encodes to the
/// same bytes; panics only on such a mismatch. The fuzz target
/// `protocol_decode` and a deterministic unit test feed it arbitrary bytes:
/// the decoders themselves must never panic.
#[doc(hidden)]
pub fn exercise_decoders(data: &[u8]) {
    if let Ok(p) = <&[u8; PREFACE_LEN]>::try_from(data.get(..PREFACE_LEN).unwrap_or(&[])) {
        let _ = check_preface(p);
    }
    // Every decoder over the whole input and over what follows a header.
    let rest = data.get(HEADER_LEN..).unwrap_or(&[]);
    for kind in Kind::ALL {
        for payload in [data, rest] {
            if let Ok(frame) = Frame::decode(kind, payload) {
                check_round_trip(&frame, payload);
            }
        }
    }
    // The stream as frames, after a preface if it has one.
    let mut reader = FrameReader::new(data);
    if data.starts_with(&MAGIC) {
        let _ = reader.read_preface();
    }
    while let Ok((kind, payload)) = reader.read_frame() {
        if let Ok(frame) = Frame::decode(kind, payload) {
            check_round_trip(&frame, payload);
        }
    }
}

/// Re-encodes a decoded frame and checks it gives `payload` back.
fn check_round_trip(frame: &Frame<'_>, payload: &[u8]) {
    let mut out = Vec::new();
    let encoded = match frame {
        Frame::Request(r) => r.encode(&mut out),
        Frame::Body(b) => encode_frame(&mut out, Kind::Body, b),
        Frame::BodyEnd => encode_frame(&mut out, Kind::BodyEnd, &[]),
        Frame::BodyError(s) => encode_body_error(&mut out, *s),
        Frame::BodyLater => encode_frame(&mut out, Kind::BodyLater, &[]),
        Frame::Accepted(pid) => {
            encode_accepted(&mut out, *pid);
            Ok(())
        }
        Frame::Read(n) => encode_read(&mut out, *n),
        Frame::ReadNow(n) => encode_read_now(&mut out, *n),
        Frame::Head(h) => encode_head(&mut out, h.status, h.headers.iter()),
        Frame::Data(d) => encode_frame(&mut out, Kind::Data, d),
        Frame::Flush => encode_frame(&mut out, Kind::Flush, &[]),
        Frame::End(o) => {
            encode_end(&mut out, *o);
            Ok(())
        }
        Frame::Log(l) => encode_log(&mut out, l.level, &l.message),
        Frame::Reject(r) => encode_reject(&mut out, r.status, r.retry_after_seconds, &r.reason),
        Frame::File(range) => {
            out.extend_from_slice(&range.encode());
            Ok(())
        }
    };
    assert_eq!(encoded, Ok(()), "{} re-encodes", frame.kind());
    assert_eq!(
        &out[HEADER_LEN..],
        payload,
        "{} re-encodes to the same bytes",
        frame.kind()
    );
    let header: [u8; HEADER_LEN] = out[..HEADER_LEN].try_into().unwrap_or_default();
    assert_eq!(
        decode_header(&header),
        Ok((frame.kind(), payload.len() as u32))
    );
}
