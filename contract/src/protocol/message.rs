//! Messages: the payload of each kind of frame, encoded and decoded, and
//! [`Frame`], any decoded frame.

use super::frame::{Cursor, build_frame, check_len};
use super::*;
use crate::pairs::Pairs;

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
