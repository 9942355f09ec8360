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

mod frame;
mod message;
#[cfg(test)]
mod tests;

pub use frame::*;
pub use message::*;

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
