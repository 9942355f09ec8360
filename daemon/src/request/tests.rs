use std::os::fd::AsFd;

use rustgi_abi as abi;
use rustgi_contract::protocol::{Frame, ResponseHead};
use rustgi_host::exchange::Exchange;

use super::*;
use crate::acceptance::Acceptance;

#[test]
fn waiting_for_the_client_is_off_the_app_clock() {
    let clock = RequestClock::default();
    clock.start_at(1_000);
    assert_eq!(clock.app_time_at(4_000), 3_000);
    clock.begin_wait(4_000);
    // While waiting, the clock stands still.
    assert_eq!(clock.app_time_at(9_000), 3_000);
    clock.end_wait(10_000);
    assert_eq!(clock.app_time_at(10_000), 3_000);
    assert_eq!(clock.app_time_at(12_500), 5_500);
    clock.begin_wait(12_500);
    clock.end_wait(13_000);
    assert_eq!(clock.app_time_at(14_000), 6_500);
    // A new request starts from zero.
    clock.start_at(20_000);
    assert_eq!(clock.app_time_at(20_700), 700);
}

const OK: i32 = abi::OK;
const ERROR: i32 = abi::ERROR;

/// Ends the request as the daemon does after the app's handle.
fn finish(mut conv: Exchange<Conversation>, rc: i32) -> Option<Reader> {
    let ending = conv.finish(rc);
    conv.into_transport().end(ending)
}

const PID: u32 = 4321;

/// A conversation on a kept connection (no preface), with the
/// acceptance of its worker.
fn armed_conversation(
    has_body: bool,
) -> (
    Exchange<Conversation>,
    FrameReader<UnixStream>,
    &'static Acceptance,
) {
    let (daemon, child) = UnixStream::pair().unwrap();
    let activity: &'static Activity = Box::leak(Box::default());
    let acceptance: &'static Acceptance = Box::leak(Box::new(Acceptance::new(PID)));
    let armed = acceptance.arm(daemon.as_fd(), false);
    let clock: &'static RequestClock = Box::leak(Box::default());
    let conv = Conversation::new(
        reader(daemon),
        armed,
        activity,
        clock,
        "app.so".into(),
        has_body,
    );
    (Exchange::new(conv), FrameReader::new(child), acceptance)
}

fn conversation(has_body: bool) -> (Exchange<Conversation>, FrameReader<UnixStream>) {
    let (conv, child, _) = armed_conversation(has_body);
    (conv, child)
}

/// Reads the ACCEPTED that comes before the first frame.
fn accepted(child: &mut FrameReader<UnixStream>) {
    let (kind, payload) = child.read_frame().unwrap();
    assert_eq!(kind, Kind::Accepted);
    assert_eq!(protocol::decode_accepted(payload), Ok(PID));
}

/// Every frame the child got after ACCEPTED (if it was not read yet),
/// after the daemon side closed.
fn frames(child: &mut FrameReader<UnixStream>) -> Vec<(Kind, Vec<u8>)> {
    let mut all = Vec::new();
    while let Ok((kind, payload)) = child.read_frame() {
        all.push((kind, payload.to_vec()));
    }
    if all.first().is_some_and(|(kind, _)| *kind == Kind::Accepted) {
        all.remove(0);
    }
    assert!(
        all.iter().all(|(kind, _)| *kind != Kind::Accepted),
        "{all:?}"
    );
    all
}

#[test]
fn accepted_comes_once_with_the_first_frame() {
    let (mut conv, mut child) = conversation(false);
    child.get_ref().set_nonblocking(true).unwrap();
    assert_eq!(conv.start_response(200, headers(&[])), OK);
    assert_eq!(conv.write(b"hi"), OK);
    // Nothing yet: ACCEPTED waits for the response.
    assert!(child.read_frame().is_err());
    child.get_ref().set_nonblocking(false).unwrap();
    finish(conv, OK);
    accepted(&mut child);
    let kinds: Vec<Kind> = frames(&mut child).iter().map(|(k, _)| *k).collect();
    assert_eq!(kinds, [Kind::Head, Kind::Data, Kind::End]);
}

#[test]
fn accepted_sent_by_the_monitor_is_not_sent_again() {
    let (mut conv, mut child, acceptance) = armed_conversation(false);
    std::thread::sleep(super::super::acceptance::SILENCE + Duration::from_millis(20));
    acceptance.send_if_silent();
    accepted(&mut child);
    assert_eq!(conv.start_response(200, headers(&[])), OK);
    finish(conv, OK);
    let kinds: Vec<Kind> = frames(&mut child).iter().map(|(k, _)| *k).collect();
    assert_eq!(kinds, [Kind::Head, Kind::End]);
}

fn headers<'a>(
    list: &'a [(&'a [u8], &'a [u8])],
) -> impl ExactSizeIterator<Item = (&'a [u8], &'a [u8])> + Clone {
    list.iter().copied()
}

#[test]
fn a_file_goes_as_its_descriptor_after_what_was_written_before() {
    use std::io::{Seek, SeekFrom};
    let (mut conv, child) = conversation(false);
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(b"0123456789").unwrap();
    // Nothing can be sent before the head.
    assert_eq!(conv.start_response(200, headers(&[])), OK);
    assert_eq!(conv.write(b"before "), OK);
    assert_eq!(conv.send_file(Some(file.as_fd()), 2, 5), OK);
    // Ranges outside the file, and what is not a file, are refused
    // without ending the response.
    assert_eq!(conv.send_file(Some(file.as_fd()), 8, 5), ERROR);
    let (socket, _peer) = UnixStream::pair().unwrap();
    assert_eq!(conv.send_file(Some(socket.as_fd()), 0, 1), ERROR);
    assert_eq!(conv.write(b" after"), OK);
    finish(conv, OK);
    let incoming =
        rustgi_contract::incoming::Incoming::new(child.into_inner(), Duration::from_secs(5));
    let mut child = FrameReader::new(BufReader::new(incoming));
    let mut kinds = Vec::new();
    let mut body = Vec::new();
    while let Ok((kind, payload)) = child.read_frame() {
        kinds.push(kind);
        match Frame::decode(kind, payload).unwrap() {
            Frame::Data(bytes) => body.extend_from_slice(bytes),
            Frame::File(range) => {
                let fd = child
                    .get_mut()
                    .get_mut()
                    .take_passed()
                    .expect("its descriptor");
                let mut passed = std::fs::File::from(fd);
                passed.seek(SeekFrom::Start(range.offset)).unwrap();
                let mut part = vec![0; range.length as usize];
                passed.read_exact(&mut part).unwrap();
                body.extend_from_slice(&part);
            }
            _ => {}
        }
    }
    assert_eq!(
        kinds,
        [
            Kind::Accepted,
            Kind::Head,
            Kind::Data,
            Kind::File,
            Kind::Log,
            Kind::Log,
            Kind::Data,
            Kind::End
        ]
    );
    assert_eq!(body, b"before 23456 after");
    assert!(!child.get_ref().get_ref().has_passed());
}

#[test]
fn small_writes_are_coalesced_and_the_head_goes_first() {
    let (mut conv, mut child) = conversation(false);
    assert_eq!(conv.start_response(404, headers(&[(b"x-a", b"1")])), OK);
    // Replaceable until the body starts.
    assert_eq!(conv.start_response(200, headers(&[(b"x-b", b"2")])), OK);
    for _ in 0..100 {
        assert_eq!(conv.write(b"0123456789"), OK);
    }
    assert_eq!(conv.start_response(500, headers(&[])), ERROR);
    finish(conv, OK);
    let got = frames(&mut child);
    let kinds: Vec<Kind> = got.iter().map(|(k, _)| *k).collect();
    assert_eq!(kinds, [Kind::Log, Kind::Head, Kind::Data, Kind::End]);
    let head = ResponseHead::decode(&got[1].1).unwrap();
    assert_eq!(head.status, 200);
    assert_eq!(head.headers.get(b"x-b"), Some(&b"2"[..]));
    assert_eq!(got[2].1.len(), 1000);
    assert_eq!(protocol::decode_end(&got[3].1), Ok(Outcome::Ok));
}

#[test]
fn large_writes_go_out_directly_in_bounded_frames() {
    let (mut conv, mut child) = conversation(false);
    let reader = std::thread::spawn(move || frames(&mut child));
    assert_eq!(conv.start_response(200, headers(&[])), OK);
    assert_eq!(conv.write(b"abc"), OK);
    assert_eq!(conv.write(&vec![7; 600 << 10]), OK);
    assert_eq!(conv.flush(), OK);
    finish(conv, OK);
    let got = reader.join().unwrap();
    let sizes: Vec<(Kind, usize)> = got.iter().map(|(k, p)| (*k, p.len())).collect();
    assert_eq!(
        sizes,
        [
            (Kind::Head, sizes[0].1),
            (Kind::Data, 3),
            (Kind::Data, 256 << 10),
            (Kind::Data, 256 << 10),
            (Kind::Data, 88 << 10),
            (Kind::Flush, 0),
            (Kind::End, 1),
        ]
    );
}

#[test]
fn refusals_end_with_an_error() {
    // A body before start_response.
    let (mut conv, mut child) = conversation(false);
    assert_eq!(conv.write(b"x"), ERROR);
    assert_eq!(conv.start_response(200, headers(&[])), ERROR);
    finish(conv, OK);
    let got = frames(&mut child);
    assert_eq!(got[0].0, Kind::Log);
    assert!(String::from_utf8_lossy(&got[0].1).contains("before calling start_response"));
    assert_eq!(
        got.last().map(|(k, p)| (*k, p.clone())),
        Some((Kind::End, vec![1]))
    );

    // A status or a header the daemon refuses.
    for (status, list) in [
        (199u16, &[][..]),
        (600, &[]),
        (200, &[(&b"bad name"[..], &b"v"[..])]),
        (200, &[(&b"x"[..], &b"a\r\nb"[..])]),
    ] {
        let (mut conv, mut child) = conversation(false);
        assert_eq!(conv.start_response(status, headers(list)), ERROR);
        finish(conv, OK);
        let got = frames(&mut child);
        assert!(got.iter().all(|(k, _)| *k != Kind::Head));
        assert_eq!(got.last().unwrap().1, vec![1], "{status}");
    }

    // No start_response at all; and handle returning ERROR.
    for rc in [OK, ERROR] {
        let (conv, mut child) = conversation(false);
        finish(conv, rc);
        let got = frames(&mut child);
        assert_eq!(got.last().unwrap(), &(Kind::End, vec![1]));
    }
}

/// Writes one frame as the child.
fn answer(child: &FrameReader<UnixStream>, kind: Kind, payload: &[u8]) {
    let mut out = Vec::new();
    protocol::encode_frame(&mut out, kind, payload).unwrap();
    child.get_ref().write_all(&out).unwrap();
}

#[test]
fn the_body_is_pulled_with_reads_and_read_ahead() {
    let (mut conv, mut child) = conversation(true);
    let peer = std::thread::spawn(move || {
        accepted(&mut child);
        let mut asked = Vec::new();
        let answers: [(Kind, &[u8]); 4] = [
            (Kind::Body, b"hello"),
            (Kind::Body, b" world"),
            (Kind::BodyLater, b""),
            (Kind::BodyEnd, b""),
        ];
        for (kind, payload) in answers {
            let (asked_kind, max) = child.read_frame().unwrap();
            asked.push((asked_kind, protocol::decode_read(max).unwrap_or(0)));
            answer(&child, kind, payload);
        }
        asked
    });
    let mut buf = vec![0; 1 << 20];
    assert_eq!(conv.read_body(&mut buf), 5);
    assert_eq!(&buf[..5], b"hello");
    assert_eq!(conv.read_body(&mut buf), 6);
    assert_eq!(&buf[..6], b" world");
    assert_eq!(conv.read_body(&mut buf), 0);
    // After the end no more READs.
    assert_eq!(conv.read_body(&mut buf), 0);
    let asked = peer.join().unwrap();
    let kinds: Vec<Kind> = asked.iter().map(|(k, _)| *k).collect();
    // The first piece is waited for; each following one is asked for
    // ahead; BODY_LATER makes the next read wait with a READ.
    assert_eq!(
        kinds,
        [Kind::Read, Kind::ReadNow, Kind::ReadNow, Kind::Read]
    );

    // No body: no READ at all.
    let (mut conv, _child) = conversation(false);
    assert_eq!(conv.read_body(&mut buf), 0);
}

#[test]
fn an_answer_read_ahead_is_read_before_output() {
    // The child answers the READ_NOW with a piece larger than the socket
    // holds, then reads the response: the daemon must read the piece
    // before it writes the megabyte, or both would block writing.
    let (mut conv, mut child) = conversation(true);
    for stream in [conv.transport().stream(), child.get_ref()] {
        stream
            .set_write_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
    }
    let peer = std::thread::spawn(move || {
        accepted(&mut child);
        assert_eq!(child.read_frame().unwrap().0, Kind::Read);
        answer(&child, Kind::Body, b"first");
        assert_eq!(child.read_frame().unwrap().0, Kind::ReadNow);
        answer(&child, Kind::Body, &vec![9; MAX_READ as usize]);
        let mut got = Vec::new();
        while let Ok((kind, payload)) = child.read_frame() {
            got.push((kind, payload.to_vec()));
            if kind == Kind::ReadNow {
                answer(&child, Kind::BodyEnd, b"");
            }
        }
        got
    });
    let mut buf = vec![0; 64];
    assert_eq!(conv.read_body(&mut buf), 5);
    assert_eq!(conv.start_response(200, headers(&[])), OK);
    assert_eq!(conv.write(&vec![1; 1 << 20]), OK);
    // The piece read ahead is the app's next read.
    let mut piece = vec![0; MAX_READ as usize];
    assert_eq!(conv.read_body(&mut piece), MAX_READ as isize);
    assert!(piece.iter().all(|&b| b == 9));
    assert!(finish(conv, OK).is_some(), "nothing unread is left");
    let got = peer.join().unwrap();
    let data: usize = got
        .iter()
        .filter(|(k, _)| *k == Kind::Data)
        .map(|(_, p)| p.len())
        .sum();
    assert_eq!(data, 1 << 20);
    assert_eq!(got.last().unwrap(), &(Kind::End, vec![0]));
    assert!(
        got.iter().any(|(k, _)| *k == Kind::ReadNow),
        "the next piece was asked for ahead again"
    );
}

#[test]
fn a_body_error_read_ahead_is_the_apps_only_if_it_reads_on() {
    for reads_on in [false, true] {
        let (mut conv, mut child) = conversation(true);
        let peer = std::thread::spawn(move || {
            accepted(&mut child);
            assert_eq!(child.read_frame().unwrap().0, Kind::Read);
            answer(&child, Kind::Body, b"part");
            assert_eq!(child.read_frame().unwrap().0, Kind::ReadNow);
            let mut out = Vec::new();
            protocol::encode_body_error(&mut out, 400).unwrap();
            child.get_ref().write_all(&out).unwrap();
            frames(&mut child)
        });
        let mut buf = [0; 64];
        assert_eq!(conv.read_body(&mut buf), 4);
        if reads_on {
            assert_eq!(conv.read_body(&mut buf), ERROR as isize);
        }
        let started = conv.start_response(200, headers(&[]));
        assert_eq!(started, if reads_on { ERROR } else { OK });
        finish(conv, OK);
        let got = peer.join().unwrap();
        let outcome = if reads_on { 1 } else { 0 };
        assert_eq!(got.last().unwrap(), &(Kind::End, vec![outcome]));
    }
}

#[test]
fn a_body_error_fails_reads_and_the_response() {
    let (mut conv, mut child) = conversation(true);
    let peer = std::thread::spawn(move || {
        accepted(&mut child);
        let (kind, _) = child.read_frame().unwrap();
        assert_eq!(kind, Kind::Read);
        let mut out = Vec::new();
        protocol::encode_body_error(&mut out, 413).unwrap();
        child.get_ref().write_all(&out).unwrap();
        frames(&mut child)
    });
    let mut buf = [0; 100];
    assert_eq!(conv.read_body(&mut buf), ERROR as isize);
    assert_eq!(conv.read_body(&mut buf), ERROR as isize);
    assert_eq!(conv.start_response(200, headers(&[])), ERROR);
    finish(conv, OK);
    let got = peer.join().unwrap();
    assert_eq!(got, [(Kind::End, vec![1])]);
    let _ = Frame::decode(Kind::End, &got[0].1).unwrap();
}

#[test]
fn a_vanished_child_fails_every_callback() {
    let (mut conv, child) = conversation(true);
    drop(child);
    let mut buf = [0; 10];
    assert_eq!(conv.read_body(&mut buf), ERROR as isize);
    assert_eq!(conv.start_response(200, headers(&[])), ERROR);
    assert_eq!(conv.write(b"x"), ERROR);
    assert_eq!(conv.flush(), ERROR);
    conv.transport_mut()
        .send_log(3, b"still logged, by the daemon");
    finish(conv, OK);
}
