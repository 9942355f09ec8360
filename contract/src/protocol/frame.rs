//! Frames: the preface, the 8-byte header, the limits, the errors, and the
//! pieces that build and read payloads field by field without going past a
//! limit; and [`FrameReader`], which reads frames from a stream.

use std::fmt;
use std::io::{self, IoSlice, Read, Write};

use crate::pairs::Pairs;

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
/// The largest end (offset + length) of a FILE range: the largest file
/// offset Apache's `apr_off_t` holds.
pub const MAX_FILE_END: u64 = i64::MAX as u64;

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
pub(super) fn check_len(kind: Kind, len: usize) -> Result<(), ProtocolError> {
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
pub(super) struct Builder<'o> {
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

    pub(super) fn put(&mut self, bytes: &[u8]) -> Result<(), ProtocolError> {
        self.reserve(bytes.len())?;
        self.out.extend_from_slice(bytes);
        Ok(())
    }

    pub(super) fn put_str(&mut self, field: &'static str, s: &[u8]) -> Result<(), ProtocolError> {
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

    pub(super) fn put_pairs<'a>(
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
pub(super) fn build_frame(
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
pub(super) struct Cursor<'a> {
    kind: Kind,
    buf: &'a [u8],
}

impl<'a> Cursor<'a> {
    pub(super) fn new(kind: Kind, payload: &'a [u8]) -> Result<Cursor<'a>, ProtocolError> {
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

    pub(super) fn u8(&mut self, field: &'static str) -> Result<u8, ProtocolError> {
        Ok(self.array::<1>(field)?[0])
    }

    pub(super) fn u16(&mut self, field: &'static str) -> Result<u16, ProtocolError> {
        Ok(u16::from_be_bytes(self.array(field)?))
    }

    pub(super) fn u32(&mut self, field: &'static str) -> Result<u32, ProtocolError> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    pub(super) fn u64(&mut self, field: &'static str) -> Result<u64, ProtocolError> {
        Ok(u64::from_be_bytes(self.array(field)?))
    }

    pub(super) fn string(&mut self, field: &'static str) -> Result<&'a [u8], ProtocolError> {
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

    pub(super) fn pairs(&mut self, field: &'static str) -> Result<Pairs, ProtocolError> {
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

    pub(super) fn finish(self) -> Result<(), ProtocolError> {
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
    /// The reused payload buffer (its bound is tested).
    pub(super) buf: Vec<u8>,
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
