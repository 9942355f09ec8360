//! Tests of the test harness itself (the raw HTTP client and helpers);
//! they need neither Apache nor the module.

use crate::common;

use std::io::{BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener};
use std::thread;

use common::http::{self, Body, BodyReader, Framing, Head, Request};

fn head(status: u16, headers: &[(&str, &str)]) -> Head {
    Head {
        version: "HTTP/1.1".into(),
        status,
        reason: String::new(),
        headers: headers
            .iter()
            .map(|(n, v)| ((*n).into(), (*v).into()))
            .collect(),
    }
}

#[test]
fn parses_content_length_response() {
    let raw = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhelloEXTRA";
    let resp = http::read_response(&mut &raw[..], "GET").unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.head.reason, "OK");
    assert_eq!(resp.head.version, "HTTP/1.1");
    assert_eq!(resp.body, b"hello");
    assert_eq!(resp.header("content-type"), Some("text/plain"));
    assert_eq!(resp.header("CONTENT-TYPE"), Some("text/plain"));
    assert_eq!(resp.header("X-None"), None);
}

#[test]
fn parses_chunked_response_with_extensions_and_trailers() {
    let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
        5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n";
    let resp = http::read_response(&mut &raw[..], "GET").unwrap();
    assert_eq!(resp.text(), "hello 0123456789");
}

#[test]
fn parses_read_to_close_response() {
    let raw = b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\nuntil the end";
    let resp = http::read_response(&mut &raw[..], "GET").unwrap();
    assert_eq!(resp.text(), "until the end");
}

#[test]
fn head_and_204_and_304_have_no_body() {
    let raw = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n";
    let resp = http::read_response(&mut &raw[..], "HEAD").unwrap();
    assert_eq!(resp.header("Content-Length"), Some("100"));
    assert!(resp.body.is_empty());
    for status in [204, 304] {
        assert_eq!(
            http::framing("GET", &head(status, &[("Content-Length", "3")])).unwrap(),
            Framing::Empty
        );
    }
}

#[test]
fn framing_rules() {
    let h = head(
        200,
        &[
            ("Transfer-Encoding", "gzip, chunked"),
            ("Content-Length", "3"),
        ],
    );
    assert_eq!(http::framing("GET", &h).unwrap(), Framing::Chunked);
    let h = head(200, &[("Content-Length", "7"), ("content-length", "7")]);
    assert_eq!(http::framing("GET", &h).unwrap(), Framing::Length(7));
    let h = head(200, &[("Content-Length", "7"), ("content-length", "8")]);
    assert!(http::framing("GET", &h).is_err());
    let h = head(200, &[("Content-Length", "x")]);
    assert!(http::framing("GET", &h).is_err());
    assert_eq!(
        http::framing("GET", &head(200, &[])).unwrap(),
        Framing::Close
    );
}

#[test]
fn repeated_headers_are_kept_in_order() {
    let raw = b"HTTP/1.1 404 Not Found\r\nSet-Cookie: a=1\r\nX: y\r\nset-cookie: b=2\r\n\
        Folded: one\r\n  two\r\nContent-Length: 0\r\n\r\n";
    let resp = http::read_response(&mut &raw[..], "GET").unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(resp.header_all("Set-Cookie"), vec!["a=1", "b=2"]);
    assert_eq!(resp.header("set-cookie"), Some("a=1"));
    assert_eq!(resp.header("Folded"), Some("one two"));
    assert_eq!(resp.head.headers.len(), 5);
}

#[test]
fn interim_responses_are_skipped() {
    let raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
    let resp = http::read_response(&mut &raw[..], "POST").unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.text(), "ok");
}

#[test]
fn malformed_responses_are_errors() {
    for raw in [
        &b""[..],
        b"garbage\r\n\r\n",
        b"HTTP/1.1 abc OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
    ] {
        assert!(
            http::read_response(&mut &raw[..], "GET").is_err(),
            "accepted {:?}",
            String::from_utf8_lossy(raw)
        );
    }
}

#[test]
fn body_reader_reads_chunks_incrementally() {
    let raw = b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\nNEXT";
    let mut r = BodyReader::new(&raw[..], Framing::Chunked);
    let mut buf = [0u8; 2];
    assert_eq!(r.read(&mut buf).unwrap(), 2);
    assert_eq!(&buf, b"ab");
    assert_eq!(r.read(&mut buf).unwrap(), 1);
    assert_eq!(buf[0], b'c');
    assert!(!r.is_done());
    assert_eq!(r.read_all().unwrap(), b"de");
    assert!(r.is_done());
    assert_eq!(r.into_inner(), b"NEXT");
}

#[test]
fn request_serialization() {
    let req = Request::post("/p?q=1")
        .header("X-Multi", "a")
        .header("X-Multi", "b")
        .body("hello");
    let text = String::from_utf8(req.to_bytes("h:1")).unwrap();
    assert_eq!(
        text,
        "POST /p?q=1 HTTP/1.1\r\nHost: h:1\r\nConnection: close\r\n\
         X-Multi: a\r\nX-Multi: b\r\nContent-Length: 5\r\n\r\nhello"
    );

    let req = Request::post("/c")
        .header("host", "other")
        .header("Connection", "keep-alive")
        .chunked(["ab", "", "cde"]);
    let text = String::from_utf8(req.to_bytes("h:1")).unwrap();
    assert_eq!(
        text,
        "POST /c HTTP/1.1\r\nhost: other\r\nConnection: keep-alive\r\n\
         Transfer-Encoding: chunked\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n"
    );
    assert_eq!(req.body.bytes(), b"abcde");
    assert_eq!(Body::None.bytes(), b"");

    // A request that sets its own Content-Length keeps it.
    let req = Request::post("/").header("Content-Length", "0").body("");
    let text = String::from_utf8(req.to_bytes("h")).unwrap();
    assert_eq!(text.matches("Content-Length").count(), 1);
}

#[test]
fn method_of_raw_requests() {
    assert_eq!(http::method_of(b"HEAD / HTTP/1.1\r\n"), "HEAD");
    assert_eq!(http::method_of(b"GET"), "GET");
}

#[test]
fn percent_encoding() {
    assert_eq!(http::percent_encode("a b/é~"), "a%20b%2F%C3%A9~");
}

#[test]
fn base64_and_sha256() {
    assert_eq!(common::base64(b""), "");
    assert_eq!(common::base64(b"f"), "Zg==");
    assert_eq!(common::base64(b"fo"), "Zm8=");
    assert_eq!(common::base64(b"foo"), "Zm9v");
    assert_eq!(common::base64(b"alice:secret"), "YWxpY2U6c2VjcmV0");
    assert_eq!(
        common::sha256_hex(b""),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

#[test]
fn pairs_accepts_objects_and_arrays() {
    let want = common::map(&[("a", "1"), ("b", "x")]);
    for v in [
        serde_json::json!({"a": "1", "b": "x"}),
        serde_json::json!({"a": 1, "b": "x"}),
        serde_json::json!([["a", "1"], ["b", "x"]]),
        serde_json::json!([{"name": "a", "value": "1"}, {"name": "b", "value": "x"}]),
    ] {
        assert_eq!(common::pairs(&v), want, "{v}");
    }
}

/// The client against a tiny server on a thread: sends what it is told,
/// streams a response that arrives in pieces.
#[test]
fn client_over_a_socket() {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let server = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut req = Vec::new();
        // Read the head up to the empty line.
        loop {
            let mut line = String::new();
            std::io::BufRead::read_line(&mut r, &mut line).unwrap();
            req.extend_from_slice(line.as_bytes());
            if line == "\r\n" {
                break;
            }
        }
        s.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\npart1\n\r\n")
            .unwrap();
        s.flush().unwrap();
        rx.recv().unwrap();
        s.write_all(b"6\r\npart2\n\r\n0\r\n\r\n").unwrap();
        String::from_utf8(req).unwrap()
    });
    let mut resp = http::open(addr, &Request::get("/x").header("X-A", "1")).unwrap();
    assert_eq!(resp.head.status, 200);
    assert_eq!(resp.read_until_contains(b"part1\n").unwrap(), b"part1\n");
    tx.send(()).unwrap();
    assert_eq!(resp.read_rest().unwrap(), b"part2\n");
    assert!(resp.read_after_body().unwrap().is_empty());
    let req = server.join().unwrap();
    assert!(req.starts_with("GET /x HTTP/1.1\r\n"), "{req}");
    assert!(req.contains(&format!("Host: {addr}\r\n")), "{req}");
    assert!(req.contains("Connection: close\r\n"), "{req}");
    assert!(req.contains("X-A: 1\r\n"), "{req}");
}
