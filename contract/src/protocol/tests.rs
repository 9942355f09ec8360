use super::*;
use crate::pairs::Pairs;
use std::io::{self, Read, Write};

fn pairs(list: &[(&str, &str)]) -> Pairs {
    list.iter().copied().collect()
}

fn as_vec(p: &Pairs) -> Vec<(Vec<u8>, Vec<u8>)> {
    p.iter().map(|(n, v)| (n.to_vec(), v.to_vec())).collect()
}

/// Splits one encoded frame into its checked header and payload.
fn split(frame: &[u8]) -> (Kind, &[u8]) {
    let header: [u8; HEADER_LEN] = frame[..HEADER_LEN].try_into().unwrap();
    let (kind, len) = decode_header(&header).unwrap();
    assert_eq!(len as usize, frame.len() - HEADER_LEN, "{kind} length");
    (kind, &frame[HEADER_LEN..])
}

fn sample_request() -> Vec<u8> {
    let mut out = Vec::new();
    encode_request(
        &mut out,
        1_763_700_000_123_456,
        true,
        b"/srv/app/libshop.so",
        &pairs(&[("db", "postgres://x")]),
        &pairs(&[
            ("REQUEST_METHOD", "POST"),
            ("PATH_INFO", "/a\0b"),
            ("EMPTY", ""),
        ]),
        &pairs(&[]),
    )
    .unwrap();
    out
}

#[test]
fn file_ranges_are_checked_both_ways() {
    let range = FileRange::new(7, 1 << 30).unwrap();
    let frame = range.encode();
    let (kind, len) = decode_header(frame[..HEADER_LEN].try_into().unwrap()).unwrap();
    assert_eq!((kind, len), (Kind::File, 16));
    assert_eq!(
        Frame::decode(kind, &frame[HEADER_LEN..]).unwrap().kind(),
        Kind::File
    );
    assert_eq!(FileRange::decode(&frame[HEADER_LEN..]), Ok(range));
    for (offset, length) in [
        (0, 0),
        (MAX_FILE_END, 1),
        (u64::MAX, u64::MAX),
        (1, MAX_FILE_END),
    ] {
        let bad = FileRange { offset, length }.encode();
        let e = FileRange::decode(&bad[HEADER_LEN..]).unwrap_err();
        assert_eq!(e, ProtocolError::BadFileRange { offset, length });
        assert!(e.to_string().starts_with("FILE range of"), "{e}");
    }
    assert!(FileRange::new(MAX_FILE_END - 1, 1).is_ok());
    // The payload is exactly 16 bytes.
    assert!(matches!(
        decode_header(&frame_header(Kind::File, 15)),
        Err(ProtocolError::WrongSize { .. })
    ));
    assert!(!Kind::File.from_child());
}

#[test]
fn preface_round_trip() {
    let p = preface();
    assert_eq!(&p, b"RUSTGI\0\x04");
    assert_eq!(check_preface(&p), Ok(()));
    assert_eq!(
        check_preface(b"HTTP/1.1"),
        Err(ProtocolError::BadMagic(*b"HTTP/1"))
    );
    assert_eq!(
        check_preface(b"RUSTGI\0\x01"),
        Err(ProtocolError::UnsupportedVersion(1))
    );
    assert!(
        ProtocolError::UnsupportedVersion(1)
            .to_string()
            .contains("version 1")
    );
}

#[test]
fn request_round_trip() {
    let out = sample_request();
    let (kind, payload) = split(&out);
    assert_eq!(kind, Kind::Request);
    let r = RequestHead::decode(payload).unwrap();
    assert_eq!(r.queue_start_us, 1_763_700_000_123_456);
    assert!(r.has_body);
    assert_eq!(r.app_file, b"/srv/app/libshop.so");
    assert_eq!(
        as_vec(&r.init_config),
        [(b"db".to_vec(), b"postgres://x".to_vec())]
    );
    assert_eq!(r.environ.get(b"PATH_INFO"), Some(&b"/a\0b"[..]));
    assert_eq!(r.environ.get(b"EMPTY"), Some(&b""[..]));
    assert_eq!(r.environ.len(), 3);
    assert!(r.config.is_empty());
    // Decoded strings are NUL-terminated for the ABI.
    let abi = r.environ.abi_pairs();
    assert_eq!(abi.len(), 3);
    // And it encodes back to the same bytes.
    let mut again = Vec::new();
    r.encode(&mut again).unwrap();
    assert_eq!(again, out);

    let mut no_body = Vec::new();
    encode_request(
        &mut no_body,
        0,
        false,
        b"",
        &pairs(&[]),
        &pairs(&[]),
        &pairs(&[]),
    )
    .unwrap();
    let (_, payload) = split(&no_body);
    assert_eq!(payload.len(), 8 + 1 + 4 + 4 * 3);
    assert!(!RequestHead::decode(payload).unwrap().has_body);
}

#[test]
fn small_frames_round_trip() {
    let mut out = Vec::new();
    encode_accepted(&mut out, 4242);
    assert_eq!(decode_accepted(split(&out).1), Ok(4242));

    out.clear();
    encode_read(&mut out, MAX_READ).unwrap();
    assert_eq!(split(&out).0, Kind::Read);
    assert_eq!(decode_read(split(&out).1), Ok(MAX_READ));

    out.clear();
    encode_read_now(&mut out, 1).unwrap();
    assert_eq!(split(&out).0, Kind::ReadNow);
    assert_eq!(decode_read_now(split(&out).1), Ok(1));
    assert!(matches!(
        Frame::decode(Kind::ReadNow, split(&out).1),
        Ok(Frame::ReadNow(1))
    ));
    assert_eq!(
        encode_read_now(&mut out, MAX_READ + 1),
        Err(ProtocolError::BadReadSize(MAX_READ + 1))
    );
    assert!(matches!(
        Frame::decode(Kind::BodyLater, &[]),
        Ok(Frame::BodyLater)
    ));
    assert!(Frame::decode(Kind::BodyLater, &[0]).is_err());
    out.clear();
    assert_eq!(encode_read(&mut out, 0), Err(ProtocolError::BadReadSize(0)));
    assert_eq!(
        encode_read(&mut out, MAX_READ + 1),
        Err(ProtocolError::BadReadSize(MAX_READ + 1))
    );

    for outcome in [Outcome::Ok, Outcome::Error] {
        out.clear();
        encode_end(&mut out, outcome);
        assert_eq!(decode_end(split(&out).1), Ok(outcome));
    }

    out.clear();
    encode_body_error(&mut out, 413).unwrap();
    assert_eq!(decode_body_error(split(&out).1), Ok(413));
    assert!(encode_body_error(&mut out, 200).is_err());

    for kind in [Kind::BodyEnd, Kind::Flush] {
        out.clear();
        encode_frame(&mut out, kind, &[]).unwrap();
        assert_eq!(out, frame_header(kind, 0));
        assert_eq!(Frame::decode(kind, &[]).unwrap().kind(), kind);
    }
    for kind in [Kind::Body, Kind::Data] {
        out.clear();
        encode_frame(&mut out, kind, b"bytes").unwrap();
        let (k, payload) = split(&out);
        assert_eq!(k, kind);
        assert_eq!(payload, b"bytes");
    }
}

#[test]
fn head_reject_log_round_trip() {
    let mut out = Vec::new();
    let headers: [(&[u8], &[u8]); 2] = [(b"Content-Type", b"text/plain"), (b"Set-Cookie", b"a=1")];
    encode_head(&mut out, 201, headers).unwrap();
    let (kind, payload) = split(&out);
    assert_eq!(kind, Kind::Head);
    let head = ResponseHead::decode(payload).unwrap();
    assert_eq!(head.status, 201);
    assert_eq!(
        as_vec(&head.headers),
        [
            (b"Content-Type".to_vec(), b"text/plain".to_vec()),
            (b"Set-Cookie".to_vec(), b"a=1".to_vec())
        ]
    );

    out.clear();
    encode_reject(&mut out, 503, 1, b"queue-timeout").unwrap();
    let (kind, payload) = split(&out);
    assert_eq!(kind, Kind::Reject);
    assert_eq!(
        Reject::decode(payload).unwrap(),
        Reject {
            status: 503,
            retry_after_seconds: 1,
            reason: b"queue-timeout".to_vec()
        }
    );

    out.clear();
    encode_log(&mut out, 3, b"something broke").unwrap();
    let (kind, payload) = split(&out);
    assert_eq!(kind, Kind::Log);
    assert_eq!(
        LogLine::decode(payload).unwrap(),
        LogLine {
            level: 3,
            message: b"something broke".to_vec()
        }
    );
}

#[test]
fn headers_are_checked() {
    let mut h = frame_header(Kind::Data, 5);
    assert_eq!(decode_header(&h), Ok((Kind::Data, 5)));
    h[0] = 0x42;
    assert_eq!(decode_header(&h), Err(ProtocolError::UnknownKind(0x42)));
    h[0] = 0;
    assert_eq!(decode_header(&h), Err(ProtocolError::UnknownKind(0)));
    let mut h = frame_header(Kind::Data, 5);
    h[1] = 1;
    assert_eq!(
        decode_header(&h),
        Err(ProtocolError::NonZeroFlags {
            kind: Kind::Data,
            flags: 1
        })
    );
    let mut h = frame_header(Kind::Data, 5);
    h[3] = 1;
    assert_eq!(
        decode_header(&h),
        Err(ProtocolError::NonZeroReserved {
            kind: Kind::Data,
            reserved: 1
        })
    );
    // Fixed-size kinds must have exactly their size.
    assert_eq!(
        decode_header(&frame_header(Kind::Read, 3)),
        Err(ProtocolError::WrongSize {
            kind: Kind::Read,
            len: 3,
            expected: 4
        })
    );
    assert!(decode_header(&frame_header(Kind::Flush, 1)).is_err());
    assert!(decode_header(&frame_header(Kind::BodyEnd, 0)).is_ok());
    for kind in Kind::ALL {
        assert_eq!(Kind::from_u8(kind as u8), Some(kind));
        assert_eq!(
            kind.from_child(),
            matches!(
                kind,
                Kind::Request | Kind::Body | Kind::BodyEnd | Kind::BodyError | Kind::BodyLater
            )
        );
    }
}

#[test]
fn every_payload_limit() {
    let cases = [
        (Kind::Request, MAX_META_PAYLOAD),
        (Kind::Head, MAX_META_PAYLOAD),
        (Kind::Reject, MAX_META_PAYLOAD),
        (Kind::Log, MAX_META_PAYLOAD),
        (Kind::Body, MAX_DATA_PAYLOAD),
        (Kind::Data, MAX_DATA_PAYLOAD),
    ];
    for (kind, limit) in cases {
        assert_eq!(decode_header(&frame_header(kind, limit)), Ok((kind, limit)));
        let err = decode_header(&frame_header(kind, limit + 1)).unwrap_err();
        assert_eq!(
            err,
            ProtocolError::PayloadTooLarge {
                kind,
                len: u64::from(limit) + 1,
                limit
            }
        );
        let text = err.to_string();
        assert!(text.contains(kind.name()), "{text}");
        assert!(text.contains("limit"), "{text}");
        assert!(text.contains("MiB") || text.contains("KiB"), "{text}");
        // The payload decoders check the limit too.
        let big = vec![0u8; limit as usize + 1];
        assert!(matches!(
            Frame::decode(kind, &big),
            Err(ProtocolError::PayloadTooLarge { .. })
        ));
    }
    let mut out = Vec::new();
    let big = vec![b'x'; MAX_DATA_PAYLOAD as usize + 1];
    assert!(encode_frame(&mut out, Kind::Data, &big).is_err());
    assert!(out.is_empty());
    assert!(encode_frame(&mut out, Kind::Data, &big[1..]).is_ok());
}

#[test]
fn string_and_pair_limits() {
    // A string claiming more than 1 MiB.
    let mut p = Vec::new();
    p.push(3);
    p.extend_from_slice(&(MAX_STRING + 1).to_be_bytes());
    let err = LogLine::decode(&p).unwrap_err();
    assert!(
        matches!(err, ProtocolError::StringTooLong { len, .. } if len == u64::from(MAX_STRING) + 1)
    );
    assert!(err.to_string().contains("1 MiB"), "{err}");
    // A string claiming exactly 1 MiB but not there is truncated.
    let mut p = vec![3];
    p.extend_from_slice(&MAX_STRING.to_be_bytes());
    assert!(matches!(
        LogLine::decode(&p),
        Err(ProtocolError::Truncated {
            kind: Kind::Log,
            ..
        })
    ));

    // Pair counts.
    let mut p = 200u16.to_be_bytes().to_vec();
    p.extend_from_slice(&(MAX_PAIRS + 1).to_be_bytes());
    let err = ResponseHead::decode(&p).unwrap_err();
    assert!(
        matches!(err, ProtocolError::TooManyPairs { count, .. } if count == u64::from(MAX_PAIRS) + 1)
    );
    assert!(err.to_string().contains("10000"), "{err}");
    let many: Vec<(Vec<u8>, Vec<u8>)> = (0..MAX_PAIRS)
        .map(|i| (i.to_string().into_bytes(), vec![]))
        .collect();
    let mut out = Vec::new();
    encode_head(&mut out, 200, many.iter().map(|(n, v)| (&n[..], &v[..]))).unwrap();
    let head = ResponseHead::decode(split(&out).1).unwrap();
    assert_eq!(head.headers.len(), MAX_PAIRS as usize);
    let mut more = many.clone();
    more.push((b"one-more".to_vec(), vec![]));
    let mut out = Vec::new();
    assert!(matches!(
        encode_head(&mut out, 200, more.iter().map(|(n, v)| (&n[..], &v[..]))),
        Err(ProtocolError::TooManyPairs { .. })
    ));
    assert!(out.is_empty());

    // The encoders refuse what the payload limit would.
    let huge = vec![b'v'; 600 << 10];
    let env: Pairs = [("A", &huge[..]), ("B", &huge[..])].into_iter().collect();
    let mut out = b"keep".to_vec();
    let err = encode_request(
        &mut out,
        0,
        false,
        b"/x.so",
        &Pairs::default(),
        &env,
        &Pairs::default(),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            ProtocolError::PayloadTooLarge {
                kind: Kind::Request,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(out, b"keep");
    let string = vec![b's'; MAX_STRING as usize + 1];
    assert!(matches!(
        encode_log(&mut out, 3, &string),
        Err(ProtocolError::StringTooLong { .. })
    ));
    assert!(encode_log(&mut out, 16, b"x").is_err());
    assert_eq!(out, b"keep");
}

#[test]
fn read_limit() {
    assert_eq!(decode_read(&MAX_READ.to_be_bytes()), Ok(MAX_READ));
    assert_eq!(decode_read(&1u32.to_be_bytes()), Ok(1));
    assert_eq!(
        decode_read(&(MAX_READ + 1).to_be_bytes()),
        Err(ProtocolError::BadReadSize(MAX_READ + 1))
    );
    assert_eq!(
        decode_read(&0u32.to_be_bytes()),
        Err(ProtocolError::BadReadSize(0))
    );
    assert!(
        ProtocolError::BadReadSize(0)
            .to_string()
            .contains("256 KiB")
    );
}

#[test]
fn malformed_payloads() {
    let out = sample_request();
    let payload = &out[HEADER_LEN..];
    // Every truncation of a valid request fails, none panics.
    for cut in 0..payload.len() {
        let err = RequestHead::decode(&payload[..cut]).unwrap_err();
        assert!(
            matches!(err, ProtocolError::Truncated { .. }),
            "cut {cut}: {err}"
        );
    }
    // Trailing bytes.
    let mut long = payload.to_vec();
    long.push(0);
    assert_eq!(
        RequestHead::decode(&long).unwrap_err(),
        ProtocolError::TrailingBytes {
            kind: Kind::Request,
            extra: 1
        }
    );
    // Undefined request flags.
    let mut flags = payload.to_vec();
    flags[8] = 0x03;
    assert_eq!(
        RequestHead::decode(&flags).unwrap_err(),
        ProtocolError::BadRequestFlags(3)
    );

    assert_eq!(decode_end(&[2]), Err(ProtocolError::BadOutcome(2)));
    assert!(matches!(
        decode_end(&[]),
        Err(ProtocolError::WrongSize { .. })
    ));
    assert!(matches!(
        decode_end(&[0, 0]),
        Err(ProtocolError::PayloadTooLarge { .. })
    ));
    assert!(decode_accepted(&[0, 0, 1]).is_err());
    assert_eq!(
        decode_body_error(&200u16.to_be_bytes()),
        Err(ProtocolError::BadStatus {
            kind: Kind::BodyError,
            status: 200
        })
    );
    assert_eq!(
        ResponseHead::decode(&[0, 99, 0, 0, 0, 0]).unwrap_err(),
        ProtocolError::BadStatus {
            kind: Kind::Head,
            status: 99
        }
    );
    assert!(ResponseHead::decode(&[2, 88, 0, 0, 0, 0]).is_err()); // 600
    assert!(ResponseHead::decode(&[0, 200, 0, 0, 0, 0, 9]).is_err()); // trailing
    assert!(ResponseHead::decode(&[0, 200, 0, 0, 0, 1, 0, 0, 0, 0]).is_err()); // truncated pair
    assert!(Reject::decode(&[0, 200, 0, 0, 0, 0, 0, 0, 0, 0]).is_err()); // status 200
    assert_eq!(
        LogLine::decode(&[16, 0, 0, 0, 0]),
        Err(ProtocolError::BadLogLevel(16))
    );
    assert!(LogLine::decode(&[15, 0, 0, 0, 0]).is_ok());
    for kind in Kind::ALL {
        // An empty payload is either valid or an error, never a panic.
        let _ = Frame::decode(kind, &[]);
    }
}

#[test]
fn frame_reader_reads_a_conversation() {
    let mut stream = preface().to_vec();
    stream.extend_from_slice(&sample_request());
    encode_frame(&mut stream, Kind::Body, b"hello").unwrap();
    encode_frame(&mut stream, Kind::BodyEnd, b"").unwrap();
    let mut reader = FrameReader::new(&stream[..]);
    reader.read_preface().unwrap();
    let (kind, payload) = reader.read_frame().unwrap();
    assert_eq!(kind, Kind::Request);
    assert!(RequestHead::decode(payload).is_ok());
    let (kind, len) = reader.read_header().unwrap();
    assert_eq!((kind, len), (Kind::Body, 5));
    let mut body = [0; 5];
    reader.get_mut().read_exact(&mut body).unwrap();
    assert_eq!(&body, b"hello");
    assert_eq!(reader.read_frame().unwrap().0, Kind::BodyEnd);
    let eof = reader.read_frame().unwrap_err();
    assert_eq!(eof.kind(), io::ErrorKind::UnexpectedEof);

    // A bad header is InvalidData holding the ProtocolError.
    let bad = [0x99, 0, 0, 0, 0, 0, 0, 0];
    let err = FrameReader::new(&bad[..]).read_frame().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    assert_eq!(
        protocol_error(&err),
        Some(&ProtocolError::UnknownKind(0x99))
    );
    let err = FrameReader::new(&b"GET / HTTP/1.1\r\n"[..])
        .read_preface()
        .unwrap_err();
    assert!(matches!(
        protocol_error(&err),
        Some(ProtocolError::BadMagic(_))
    ));
    // A header that promises more than is there: UnexpectedEof, and the
    // buffer never grows past the limit.
    let mut short = frame_header(Kind::Data, MAX_DATA_PAYLOAD).to_vec();
    short.extend_from_slice(b"abc");
    let mut reader = FrameReader::new(&short[..]);
    assert_eq!(
        reader.read_frame().unwrap_err().kind(),
        io::ErrorKind::UnexpectedEof
    );
    assert!(reader.buf.capacity() <= MAX_META_PAYLOAD as usize);
}

#[test]
fn write_frame_writes_header_and_payload() {
    /// A writer that takes at most 3 bytes per call.
    struct Dribble(Vec<u8>);
    impl Write for Dribble {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(3);
            self.0.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let mut w = Dribble(Vec::new());
    write_frame(&mut w, Kind::Data, b"hello world").unwrap();
    let mut expected = Vec::new();
    encode_frame(&mut expected, Kind::Data, b"hello world").unwrap();
    assert_eq!(w.0, expected);
    let err = write_frame(&mut w, Kind::Flush, b"x").unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
}

/// A small deterministic generator (xorshift64*), so the test needs no crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Valid frames and conversations: the seeds of the fuzz corpus and of the
/// mutation test.
pub(crate) fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let mut seeds = Vec::new();
    let mut child = preface().to_vec();
    child.extend_from_slice(&sample_request());
    encode_frame(&mut child, Kind::Body, b"name=value").unwrap();
    encode_frame(&mut child, Kind::BodyEnd, &[]).unwrap();
    seeds.push(("child-conversation", child));

    let mut daemon = preface().to_vec();
    encode_accepted(&mut daemon, 1234);
    encode_read(&mut daemon, 65536).unwrap();
    encode_log(&mut daemon, 6, b"app says hello").unwrap();
    encode_head(
        &mut daemon,
        200,
        [(&b"content-type"[..], &b"text/plain"[..])],
    )
    .unwrap();
    encode_frame(&mut daemon, Kind::Data, b"Hello, World!").unwrap();
    encode_frame(&mut daemon, Kind::Flush, &[]).unwrap();
    encode_end(&mut daemon, Outcome::Ok);
    seeds.push(("daemon-conversation", daemon));

    let mut file = preface().to_vec();
    encode_accepted(&mut file, 1234);
    encode_head(&mut file, 200, [(&b"content-length"[..], &b"1048576"[..])]).unwrap();
    file.extend_from_slice(&FileRange::new(4096, 1 << 20).unwrap().encode());
    encode_end(&mut file, Outcome::Ok);
    seeds.push(("daemon-file", file));

    let mut reject = preface().to_vec();
    encode_reject(&mut reject, 503, 1, b"queue-timeout").unwrap();
    seeds.push(("daemon-reject", reject));

    let mut body_error = Vec::new();
    encode_body_error(&mut body_error, 413).unwrap();
    seeds.push(("body-error", body_error));
    seeds.push(("request", sample_request()));
    let mut end_error = Vec::new();
    encode_end(&mut end_error, Outcome::Error);
    seeds.push(("end-error", end_error));
    seeds
}

/// Feeds every decoder a few hundred thousand random and mutated inputs:
/// none may panic (the stable stand-in for the cargo-fuzz target, which runs
/// the same `exercise_decoders`).
#[test]
fn decoders_never_panic_on_random_input() {
    let seeds = seeds();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut input = Vec::with_capacity(4096);
    for round in 0..300_000 {
        input.clear();
        if round % 4 == 0 {
            // Pure noise, sometimes behind a valid preface or header byte.
            let len = rng.below(64);
            if rng.below(2) == 0 {
                input.extend_from_slice(&preface());
            }
            input.extend((0..len).map(|_| rng.next() as u8));
            if rng.below(2) == 0 && !input.is_empty() {
                let k = Kind::ALL[rng.below(Kind::ALL.len())];
                input[0] = k as u8;
            }
        } else {
            // A mutated seed: flipped, replaced, inserted, removed or cut
            // bytes, or a length field set to something large.
            let (_, seed) = &seeds[rng.below(seeds.len())];
            input.extend_from_slice(seed);
            for _ in 0..1 + rng.below(4) {
                if input.is_empty() {
                    break;
                }
                let at = rng.below(input.len());
                match rng.below(6) {
                    0 => input[at] ^= 1 << rng.below(8),
                    1 => input[at] = rng.next() as u8,
                    2 => input.insert(at, rng.next() as u8),
                    3 => {
                        input.remove(at);
                    }
                    4 => input.truncate(at),
                    _ => {
                        let end = (at + 4).min(input.len());
                        let v = [0xff, 0x00, 0x10, 0x00];
                        input[at..end].copy_from_slice(&v[..end - at]);
                    }
                }
            }
        }
        exercise_decoders(&input);
    }
}

/// The committed fuzz corpus holds exactly these seeds. Run with
/// `RUSTGI_WRITE_CORPUS=1` to (re)write it.
#[test]
fn fuzz_seed_corpus_is_current() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/protocol_decode");
    let write = std::env::var_os("RUSTGI_WRITE_CORPUS").is_some();
    if write {
        std::fs::create_dir_all(&dir).unwrap();
    }
    for (name, bytes) in seeds() {
        exercise_decoders(&bytes);
        let path = dir.join(format!("seed-{name}"));
        if write {
            std::fs::write(&path, &bytes).unwrap();
        } else if dir.is_dir() {
            let on_disk = std::fs::read(&path).unwrap_or_else(|e| {
                panic!("{}: {e}; rerun with RUSTGI_WRITE_CORPUS=1", path.display())
            });
            assert_eq!(
                on_disk,
                bytes,
                "{} is stale; rerun with RUSTGI_WRITE_CORPUS=1",
                path.display()
            );
        }
    }
}
