//! The tests of the multipart parser.

use super::*;
use crate::{Config, Environ};

fn limits() -> FormLimits {
    FormLimits::default()
}

type Parts = Vec<(String, Option<String>, Vec<u8>)>;

/// Reads every part as (name, filename, body).
fn parts(body: &[u8], boundary: &str, limits: FormLimits) -> Result<Parts, FormError> {
    let mut mp = Multipart::new(body, boundary, limits)?;
    let mut out = Vec::new();
    while let Some(mut part) = mp.next_part()? {
        let mut data = Vec::new();
        while let Some(chunk) = part.read_chunk()? {
            data.extend_from_slice(chunk);
        }
        out.push((
            part.name().to_owned(),
            part.filename().map(Into::into),
            data,
        ));
    }
    Ok(out)
}

/// A reader that returns one byte at a time.
struct Trickle<'a>(&'a [u8]);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match (self.0.split_first(), buf.first_mut()) {
            (Some((&b, rest)), Some(slot)) => {
                *slot = b;
                self.0 = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

const SIMPLE: &[u8] = b"preamble\r\n--b\r\n\
    Content-Disposition: form-data; name=\"a\"\r\n\r\n\
    1\r\n\
    --b  \r\n\
    content-disposition: FORM-DATA; name=b; filename=\"x \\\"y\\\".bin\"\r\n\
    Content-Type: application/octet-stream\r\n\
    X-Extra:  v \r\n\r\n\
    \r\n--\r\n-b\r\n\r\n--b--\r\nepilogue --b junk";

#[test]
fn parses_fields_and_files() {
    let got = parts(SIMPLE, "b", limits()).unwrap();
    assert_eq!(
        got,
        [
            ("a".into(), None, b"1".to_vec()),
            (
                "b".into(),
                Some("x \"y\".bin".into()),
                b"\r\n--\r\n-b\r\n".to_vec()
            ),
        ]
    );
}

#[test]
fn byte_by_byte_reads_give_the_same_parts() {
    let mut mp = Multipart::new(Trickle(SIMPLE), "b", limits()).unwrap();
    let mut names = Vec::new();
    while let Some(mut part) = mp.next_part().unwrap() {
        let mut data = Vec::new();
        part.read_to_end(&mut data).unwrap();
        assert_eq!(part.headers().len(), if names.is_empty() { 1 } else { 3 });
        names.push((part.name().to_owned(), data));
    }
    assert_eq!(names[1].1, b"\r\n--\r\n-b\r\n");
    assert_eq!(names.len(), 2);
}

#[test]
fn small_reads_put_the_rest_back() {
    let mut mp = Multipart::new(SIMPLE, "b", limits()).unwrap();
    let _ = mp.next_part().unwrap().unwrap();
    let mut part = mp.next_part().unwrap().unwrap();
    assert_eq!(part.headers()["x-extra"], "v");
    let mut got = Vec::new();
    let mut two = [0; 2];
    loop {
        let n = part.read(&mut two).unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&two[..n]);
    }
    assert_eq!(got, b"\r\n--\r\n-b\r\n");
    assert!(mp.next_part().unwrap().is_none());
    // Done stays done.
    assert!(mp.next_part().unwrap().is_none());
}

#[test]
fn unread_parts_are_skipped() {
    let mut mp = Multipart::new(SIMPLE, "b", limits()).unwrap();
    assert_eq!(mp.next_part().unwrap().unwrap().name(), "a");
    let part = mp.next_part().unwrap().unwrap();
    assert_eq!(part.content_type(), Some("application/octet-stream"));
    assert!(format!("{part:?}").contains("x \\\"y\\\".bin"));
    assert!(mp.next_part().unwrap().is_none());
    assert!(format!("{mp:?}").contains("Done"));
}

#[test]
fn boundary_at_the_very_start_and_empty_parts() {
    let body = b"--b\r\n\r\n--b\r\nContent-Disposition: form-data; name=e\r\n\r\n\r\n--b--";
    // A part without headers has no Content-Disposition.
    let err = parts(body, "b", limits()).unwrap_err();
    assert!(matches!(err, FormError::Malformed(_)), "{err:?}");
    let body = b"--b\r\nContent-Disposition: form-data; name=e\r\n\r\n\r\n--b--";
    assert_eq!(
        parts(body, "b", limits()).unwrap(),
        [("e".into(), None, vec![])]
    );
    // No parts at all.
    assert!(parts(b"--b--", "b", limits()).unwrap().is_empty());
}

#[test]
fn malformed_bodies() {
    let cases: &[&[u8]] = &[
        b"",
        b"no boundary here",
        b"--b",
        b"--b\r\n",
        b"--b\r\nContent-Disposition: form-data; name=a\r\n",
        b"--b\r\nContent-Disposition: form-data; name=a\r\n\r\ndata",
        b"--b\r\nContent-Disposition: form-data; name=a\r\n\r\ndata\r\n--b",
        b"--bx\r\n",
        b"--b\r\nContent-Disposition: attachment; name=a\r\n\r\n\r\n--b--",
        b"--b\r\nContent-Disposition: form-data\r\n\r\n\r\n--b--",
        b"--b\r\nContent-Disposition form-data; name=a\r\n\r\n\r\n--b--",
        b"--b\r\n Content-Disposition: form-data; name=a\r\n\r\n\r\n--b--",
        b"--b\r\nContent-Disposition: form-data; name=a\nX: y\r\n\r\n\r\n--b--",
        b"--b\r\nContent-Disposition: form-data; name=a\r\nX: \x01\r\n\r\n\r\n--b--",
    ];
    for body in cases {
        match parts(body, "b", limits()) {
            Err(FormError::Malformed(_)) => {}
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(body)),
        }
    }
}

#[test]
fn limits_are_enforced() {
    let body = b"--b\r\nContent-Disposition: form-data; name=a\r\n\r\n\
        0123456789\r\n--b\r\nContent-Disposition: form-data; name=b\r\n\r\n\r\n--b--";
    let err = parts(
        body,
        "b",
        FormLimits {
            body: 20,
            ..limits()
        },
    )
    .unwrap_err();
    assert!(
        matches!(err, FormError::BodyTooLarge { limit: 20 }),
        "{err:?}"
    );
    assert_eq!(err.status(), 413);
    let err = parts(
        body,
        "b",
        FormLimits {
            fields: 1,
            ..limits()
        },
    )
    .unwrap_err();
    assert!(
        matches!(err, FormError::TooManyFields { limit: 1 }),
        "{err:?}"
    );
    assert!(
        parts(
            body,
            "b",
            FormLimits {
                fields: 2,
                ..limits()
            }
        )
        .is_ok()
    );
    let err = parts(
        body,
        "b",
        FormLimits {
            header_size: 20,
            ..limits()
        },
    )
    .unwrap_err();
    assert!(matches!(err, FormError::HeaderTooLarge { .. }), "{err:?}");
    assert!(
        parts(
            body,
            "b",
            FormLimits {
                header_size: 44,
                ..limits()
            }
        )
        .is_ok()
    );

    // A header block longer than the buffer.
    let mut big = b"--b\r\nContent-Disposition: form-data; name=a\r\nX: ".to_vec();
    big.extend(std::iter::repeat_n(b'x', 100_000));
    let err = parts(&big, "b", limits()).unwrap_err();
    assert!(matches!(err, FormError::HeaderTooLarge { .. }), "{err:?}");
}

#[test]
fn boundaries() {
    assert!(check_boundary("simple").is_ok());
    assert!(check_boundary("----WebKitFormBoundary7MA4YWxkTrZu0gW").is_ok());
    assert!(check_boundary(&"x".repeat(70)).is_ok());
    assert!(check_boundary(&"x".repeat(71)).is_err());
    assert!(check_boundary("a b").is_ok());
    assert!(check_boundary("ab ").is_err());
    assert!(check_boundary("a\rb").is_err());
    assert!(check_boundary("a\"b").is_err());
    assert!(matches!(
        Multipart::<&[u8]>::boundary_of("text/plain"),
        Err(FormError::UnsupportedMediaType(_))
    ));
    assert_eq!(
        Multipart::<&[u8]>::boundary_of("Multipart/Form-Data; charset=x; BOUNDARY=q").unwrap(),
        "q"
    );
}

#[test]
fn long_parts_cross_buffer_edges() {
    // Bodies of many sizes around the buffer size, with near-boundaries
    // inside them.
    for size in [0, 1, 8185, 8186, 8190, 8191, 8192, 8193, 20_000] {
        let mut data: Vec<u8> = (0..size).map(|i| b"\r\n--bounX-y"[i % 11]).collect();
        data.extend_from_slice(b"\r\n--boun");
        let mut body =
            b"--bound\r\nContent-Disposition: form-data; name=f; filename=f\r\n\r\n".to_vec();
        body.extend_from_slice(&data);
        body.extend_from_slice(b"\r\n--bound--");
        let got = parts(&body, "bound", limits()).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].2.len(), data.len(), "{size}");
        assert!(got[0].2 == data, "{size}");
        let mut mp = Multipart::new(Trickle(&body), "bound", limits()).unwrap();
        let mut part = mp.next_part().unwrap().unwrap();
        let mut read = Vec::new();
        part.read_to_end(&mut read).unwrap();
        assert!(read == data, "{size}");
    }
}

#[test]
fn read_errors_are_kept() {
    struct Failing;
    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::new(io::ErrorKind::ConnectionReset, "gone"))
        }
    }
    let mut mp = Multipart::new(Failing, "b", limits()).unwrap();
    let err = mp.next_part().unwrap_err();
    assert!(matches!(err, FormError::Read(_)));
    assert_eq!(err.status(), 400);
    // The parser stays failed.
    assert!(mp.next_part().is_err());
}

#[test]
fn find_is_correct() {
    assert_eq!(find(b"abc", b""), None);
    assert_eq!(find(b"", b"a"), None);
    assert_eq!(find(b"ab", b"abc"), None);
    assert_eq!(find(b"xxabc", b"abc"), Some(2));
    assert_eq!(find(b"aabab", b"ab"), Some(1));
    assert_eq!(find(b"\r\r\n--b", b"\r\n--b"), Some(1));
}

#[test]
fn random_inputs_never_panic() {
    let mut rng = crate::test_rng::Rng::new(0x5eed_0002);
    let pieces: &[&[u8]] = &[
        b"--b",
        b"\r\n",
        b"--",
        b"Content-Disposition: form-data; name=\"f\"",
        b"; filename=\"x\"",
        b"Content-Type: text/plain",
        b"\r\n\r\n",
        b"data",
        b" ",
        b"\n",
        b"\r",
        b":",
    ];
    for _ in 0..100_000 {
        let mut data = Vec::new();
        for _ in 0..rng.below(12) {
            if rng.below(10) == 0 {
                data.push(rng.byte());
            } else {
                data.extend_from_slice(pieces[rng.below(pieces.len())]);
            }
        }
        crate::__fuzz::multipart_parse(&data);
    }
}

#[test]
fn announced_lengths_are_refused_early() {
    let mut env = Environ::from_iter([
        ("CONTENT_TYPE", "multipart/form-data; boundary=XX"),
        ("CONTENT_LENGTH", "1000"),
    ]);
    env.push("REQUEST_METHOD", "POST");
    let mut req = Request::new(env, Config::new(), RequestBody::from_bytes("never read"));
    let err = req
        .multipart(&FormLimits {
            body: 999,
            ..FormLimits::default()
        })
        .unwrap_err();
    assert!(matches!(err, FormError::BodyTooLarge { limit: 999 }));
    assert_eq!(req.body_mut().read_to_vec(100).unwrap(), b"never read");
}
