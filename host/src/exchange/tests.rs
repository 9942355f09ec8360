use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd};

use super::*;

/// A transport that records what reaches it.
#[derive(Default)]
struct Recorder {
    events: Vec<String>,
    logs: Vec<String>,
    body: Vec<u8>,
    input_failed: bool,
    /// Refuse heads with more headers than this.
    max_headers: Option<usize>,
}

impl Transport for Recorder {
    type Head = (u16, Vec<(Vec<u8>, Vec<u8>, HeaderKind)>);

    fn label(&self) -> &str {
        "app t.so"
    }

    fn read_body(&mut self, buf: &mut [u8]) -> Result<usize, InputLost> {
        if self.input_failed {
            return Err(InputLost);
        }
        let n = buf.len().min(self.body.len());
        buf[..n].copy_from_slice(&self.body[..n]);
        self.body.drain(..n);
        Ok(n)
    }

    fn input_lost(&self) -> bool {
        self.input_failed
    }

    fn prepare_head(
        &mut self,
        status: u16,
        headers: &[CheckedHeader<'_>],
    ) -> Result<Self::Head, String> {
        if self.max_headers.is_some_and(|max| headers.len() > max) {
            return Err("too many headers".into());
        }
        let owned = headers
            .iter()
            .map(|(n, v, k)| (n.to_vec(), v.to_vec(), *k))
            .collect();
        Ok((status, owned))
    }

    fn begin_body(&mut self, head: Self::Head) {
        let names: Vec<String> = head
            .1
            .iter()
            .map(|(n, _, _)| String::from_utf8_lossy(n).into_owned())
            .collect();
        self.events
            .push(format!("head {} [{}]", head.0, names.join(",")));
    }

    fn write(&mut self, bytes: &[u8]) -> bool {
        self.events
            .push(format!("write {}", String::from_utf8_lossy(bytes)));
        true
    }

    fn flush(&mut self) -> bool {
        self.events.push("flush".into());
        true
    }

    fn send_file(&mut self, _file: BorrowedFd<'_>, range: FileRange) -> bool {
        self.events
            .push(format!("file {}+{}", range.offset, range.length));
        true
    }

    fn log(&mut self, _level: i32, message: &str) {
        self.logs.push(message.to_owned());
    }
}

fn exchange() -> Exchange<Recorder> {
    Exchange::new(Recorder::default())
}

fn headers<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Iterator<Item = (&'a [u8], &'a [u8])> {
    pairs.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes()))
}

#[test]
fn the_last_head_before_the_body_is_the_one_applied() {
    let mut ex = exchange();
    assert_eq!(ex.start_response(500, headers(&[("X-A", "1")])), OK);
    assert_eq!(ex.start_response(201, headers(&[("X-B", "2")])), OK);
    assert!(!ex.body_started());
    assert_eq!(ex.write(b"hi"), OK);
    assert!(ex.body_started());
    assert_eq!(ex.flush(), OK);
    assert_eq!(ex.finish(OK), Ending::Complete);
    assert_eq!(
        ex.transport().events,
        ["head 201 [X-B]", "write hi", "flush"]
    );
    assert!(ex.transport().logs.is_empty());
}

#[test]
fn a_head_without_a_body_is_an_empty_body() {
    let mut ex = exchange();
    assert_eq!(ex.start_response(204, headers(&[])), OK);
    assert_eq!(ex.finish(OK), Ending::Complete);
    assert_eq!(ex.transport().events, ["head 204 []"]);
}

#[test]
fn start_response_after_the_body_is_refused_but_the_response_goes_on() {
    let mut ex = exchange();
    ex.start_response(200, headers(&[]));
    ex.write(b"a");
    assert_eq!(ex.start_response(404, headers(&[])), ERROR);
    assert_eq!(ex.write(b"b"), OK);
    assert_eq!(ex.finish(OK), Ending::Complete);
    assert_eq!(ex.transport().events, ["head 200 []", "write a", "write b"]);
    assert_eq!(
        ex.transport().logs,
        ["app t.so: start_response after the body started is refused"]
    );
}

#[test]
fn statuses_outside_200_to_599_and_bad_headers_fail_the_request() {
    for status in [0, 99, 100, 199, 600, 999] {
        let mut ex = exchange();
        assert_eq!(ex.start_response(status, headers(&[])), ERROR, "{status}");
        // Refused for good: a good head does not bring it back.
        assert_eq!(ex.start_response(200, headers(&[])), ERROR);
        assert_eq!(ex.write(b"x"), ERROR);
        assert_eq!(ex.finish(OK), Ending::Unstarted(Failure::Refused));
        assert!(ex.transport().events.is_empty());
        assert!(ex.transport().logs[0].starts_with("app t.so: response refused: "));
    }
    for bad in [
        ("Bad Name", "v"),
        ("X-Split", "a\r\nInjected: yes"),
        ("Content-Length", "ten"),
    ] {
        let mut ex = exchange();
        assert_eq!(ex.start_response(200, headers(&[bad])), ERROR, "{bad:?}");
        assert_eq!(ex.finish(OK), Ending::Unstarted(Failure::Refused));
    }
    for status in [200, 299, 418, 599] {
        assert_eq!(exchange().start_response(status, headers(&[])), OK);
    }
}

#[test]
fn what_the_transport_cannot_carry_is_refused() {
    let mut ex = Exchange::new(Recorder {
        max_headers: Some(1),
        ..Recorder::default()
    });
    assert_eq!(
        ex.start_response(200, headers(&[("A", "1"), ("B", "2")])),
        ERROR
    );
    assert_eq!(
        ex.transport().logs,
        ["app t.so: response refused: too many headers"]
    );
    assert_eq!(ex.finish(OK), Ending::Unstarted(Failure::Refused));
}

#[test]
fn body_bytes_before_a_head_fail_the_request() {
    for call in ["write", "flush", "send_file"] {
        let mut ex = exchange();
        let file = tempfile();
        let rc = match call {
            "write" => ex.write(b"x"),
            "flush" => ex.flush(),
            _ => ex.send_file(Some(file.as_fd()), 0, 4),
        };
        assert_eq!(rc, ERROR, "{call}");
        assert_eq!(
            ex.transport().logs,
            ["app t.so: response refused: the app wrote its body before calling start_response"]
        );
        assert_eq!(ex.start_response(200, headers(&[])), ERROR);
        assert_eq!(ex.finish(OK), Ending::Unstarted(Failure::Refused));
        assert!(ex.transport().events.is_empty());
    }
}

#[test]
fn returning_without_a_response_or_failing_is_a_500_or_a_cut() {
    let mut ex = exchange();
    assert_eq!(ex.finish(OK), Ending::Unstarted(Failure::NoResponse));
    assert_eq!(
        ex.transport().logs,
        ["app t.so returned without calling start_response"]
    );

    let mut ex = exchange();
    ex.start_response(200, headers(&[]));
    assert_eq!(ex.finish(ERROR), Ending::Unstarted(Failure::App));
    assert_eq!(ex.transport().logs, ["app t.so failed before it responded"]);
    assert!(ex.transport().events.is_empty(), "the head never applies");

    let mut ex = exchange();
    ex.start_response(200, headers(&[]));
    ex.write(b"part");
    assert_eq!(ex.finish(ERROR), Ending::CutShort(Failure::App));
    assert_eq!(
        ex.transport().logs,
        ["app t.so failed after its response started; the response was cut short"]
    );
}

#[test]
fn a_transport_may_leave_app_failures_to_another_host() {
    struct Quiet(Recorder);
    impl Transport for Quiet {
        type Head = ();
        const LOGS_APP_FAILURES: bool = false;
        fn label(&self) -> &str {
            "app q.so"
        }
        fn read_body(&mut self, buf: &mut [u8]) -> Result<usize, InputLost> {
            self.0.read_body(buf)
        }
        fn input_lost(&self) -> bool {
            false
        }
        fn prepare_head(&mut self, _: u16, _: &[CheckedHeader<'_>]) -> Result<(), String> {
            Ok(())
        }
        fn begin_body(&mut self, _: ()) {}
        fn write(&mut self, _: &[u8]) -> bool {
            true
        }
        fn flush(&mut self) -> bool {
            true
        }
        fn send_file(&mut self, _: BorrowedFd<'_>, _: FileRange) -> bool {
            true
        }
        fn log(&mut self, _: i32, message: &str) {
            self.0.logs.push(message.to_owned());
        }
    }
    let mut ex = Exchange::new(Quiet(Recorder::default()));
    assert_eq!(ex.finish(ERROR), Ending::Unstarted(Failure::App));
    assert!(ex.transport().0.logs.is_empty());
    // A missing response is the app's own fault: always logged.
    let mut ex = Exchange::new(Quiet(Recorder::default()));
    assert_eq!(ex.finish(OK), Ending::Unstarted(Failure::NoResponse));
    assert_eq!(ex.transport().0.logs.len(), 1);
}

#[test]
fn a_body_that_cannot_be_read_decides_the_response() {
    let mut ex = Exchange::new(Recorder {
        body: b"abc".to_vec(),
        ..Recorder::default()
    });
    let mut buf = [0u8; 2];
    assert_eq!(ex.read_body(&mut buf), 2);
    assert_eq!(&buf, b"ab");
    assert_eq!(ex.read_body(&mut []), 0);
    ex.transport_mut().input_failed = true;
    assert_eq!(ex.read_body(&mut buf), ERROR as isize);
    assert_eq!(ex.start_response(200, headers(&[])), ERROR);
    assert_eq!(ex.write(b"x"), ERROR);
    // The app's own result does not matter any more.
    assert_eq!(ex.finish(OK), Ending::Unstarted(Failure::Input));
    assert!(ex.transport().events.is_empty());
    assert!(ex.transport().logs.is_empty(), "the transport logged it");

    // After the body started, the same failure cuts it short.
    let mut ex = exchange();
    ex.start_response(200, headers(&[]));
    ex.write(b"x");
    ex.transport_mut().input_failed = true;
    assert_eq!(ex.finish(OK), Ending::CutShort(Failure::Input));
}

fn tempfile() -> std::fs::File {
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(b"0123456789").unwrap();
    file
}

#[test]
fn files_are_checked_and_a_refused_file_leaves_the_response_alone() {
    let file = tempfile();
    let mut ex = exchange();
    ex.start_response(200, headers(&[]));
    // Nothing to send is a body all the same.
    assert_eq!(ex.send_file(None, 0, 0), OK);
    assert!(ex.body_started());
    assert_eq!(ex.send_file(None, 0, 4), ERROR);
    assert_eq!(ex.send_file(Some(file.as_fd()), 8, 4), ERROR);
    let (read, _write) = std::io::pipe().unwrap();
    assert_eq!(ex.send_file(Some(read.as_fd()), 0, 1), ERROR);
    assert_eq!(ex.transport().logs.len(), 3);
    for line in &ex.transport().logs {
        assert!(line.starts_with("app t.so: send_file refused: "), "{line}");
    }
    // The app may still write, and send a good range.
    assert_eq!(ex.send_file(Some(file.as_fd()), 2, 8), OK);
    assert_eq!(ex.write(b"!"), OK);
    assert_eq!(ex.finish(OK), Ending::Complete);
    assert_eq!(
        ex.transport().events,
        ["head 200 []", "file 2+8", "write !"]
    );
}
