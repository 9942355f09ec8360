//! The child's side of daemon mode against a daemon played by the test,
//! over a real UNIX socket, with a response that records what reaches it.

use std::io::Read;
use std::os::fd::BorrowedFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::thread::{self, JoinHandle};

use rustgi_contract::protocol::{FileRange, FrameReader, Outcome};
use rustgi_host::exchange::{CheckedHeader, Ending, Failure, InputLost, Transport};

use super::*;

/// A response that records what reaches it; its request body is `body`.
#[derive(Default)]
struct Recorder {
    label: String,
    events: Vec<String>,
    logs: Vec<String>,
    body: Vec<u8>,
    has_body: bool,
    /// Bytes gathered for the daemon and not sent yet.
    gathered: Vec<u8>,
    retry_after: Option<u32>,
    ending: Option<Ending>,
}

impl Transport for Recorder {
    type Head = u16;

    fn label(&self) -> &str {
        &self.label
    }

    fn read_body(&mut self, _: &mut [u8]) -> Result<usize, InputLost> {
        Err(InputLost)
    }

    fn input_lost(&self) -> bool {
        false
    }

    fn prepare_head(&mut self, status: u16, _: &[CheckedHeader<'_>]) -> Result<u16, String> {
        Ok(status)
    }

    fn begin_body(&mut self, status: u16) {
        self.events.push(format!("head {status}"));
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

    fn send_file(&mut self, file: BorrowedFd<'_>, range: FileRange) -> bool {
        let mut file = std::fs::File::from(file.try_clone_to_owned().unwrap());
        let mut all = String::new();
        file.read_to_string(&mut all).unwrap();
        let start = range.offset as usize;
        self.events.push(format!(
            "file {}",
            &all[start..start + range.length as usize]
        ));
        true
    }

    fn log(&mut self, _level: i32, message: &str) {
        self.logs.push(message.to_owned());
    }
}

impl ChildResponse for Recorder {
    fn set_label(&mut self, label: String) {
        self.label = label;
    }

    fn has_body(&self) -> bool {
        self.has_body
    }

    fn request_time_us(&self) -> u64 {
        0
    }

    fn gather_body(&mut self, want: usize, _wait: bool) -> Option<isize> {
        let n = want.min(self.body.len());
        self.gathered = self.body.drain(..n).collect();
        Some(n as isize)
    }

    fn send_gathered(
        &mut self,
        _spill: &mut Vec<u8>,
        send: impl FnOnce(&[IoSlice<'_>]) -> io::Result<()>,
    ) -> io::Result<()> {
        let gathered = std::mem::take(&mut self.gathered);
        send(&[IoSlice::new(&gathered)])
    }

    fn body_error(&self) -> Option<c_int> {
        None
    }

    fn client_gone(&self) -> bool {
        false
    }

    fn set_retry_after(&mut self, seconds: u32) {
        self.retry_after = Some(seconds);
    }

    fn end(&mut self, ending: Ending) -> c_int {
        self.ending = Some(ending);
        match ending {
            Ending::Complete | Ending::CutShort(_) => HANDLED,
            Ending::Unstarted(_) => 500,
        }
    }
}

/// The daemon's part on one connection: the REQUEST's reader, and the
/// connection to answer on.
type Play = Box<dyn FnOnce(&mut FrameReader<UnixStream>, &UnixStream) + Send>;

/// A group whose socket the test listens on.
struct Group {
    _dir: tempfile::TempDir,
    name: String,
    socket: PathBuf,
    files: PathBuf,
    listener: Option<UnixListener>,
}

impl Group {
    fn new(name: &str) -> Group {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("group.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        Group {
            name: name.to_owned(),
            files: dir.path().join("none"),
            _dir: dir,
            socket,
            listener: Some(listener),
        }
    }

    fn route(&self, socket_timeout: Duration) -> GroupRoute<'_> {
        GroupRoute {
            name: &self.name,
            socket: &self.socket,
            connect_timeout: Duration::from_millis(300),
            timeouts: Timeouts {
                queue: Duration::ZERO,
                request: Duration::ZERO,
                socket: socket_timeout,
            },
            group_file: &self.files,
            status_dir: &self.files,
        }
    }

    /// Plays the daemon on each connection in turn.
    fn daemon(&mut self, connections: Vec<Play>) -> JoinHandle<()> {
        let listener = self.listener.take().unwrap();
        thread::spawn(move || {
            for play in connections {
                let (stream, _) = listener.accept().unwrap();
                let writer = stream.try_clone().unwrap();
                let mut reader = FrameReader::new(stream);
                play(&mut reader, &writer);
            }
        })
    }
}

/// Reads the preface and the REQUEST, and answers with the daemon's
/// preface.
fn take_request(reader: &mut FrameReader<UnixStream>) {
    reader.read_preface().unwrap();
    let (kind, _) = reader.read_frame().unwrap();
    assert_eq!(kind, Kind::Request);
    send(reader.get_ref(), &[protocol::preface().to_vec()]);
}

fn send(writer: &UnixStream, frames: &[Vec<u8>]) {
    let mut w = writer;
    for frame in frames {
        w.write_all(frame).unwrap();
    }
}

fn frame(kind: Kind, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    protocol::encode_frame(&mut out, kind, payload).unwrap();
    out
}

fn accepted(pid: u32) -> Vec<u8> {
    let mut out = Vec::new();
    protocol::encode_accepted(&mut out, pid);
    out
}

fn head(status: u16) -> Vec<u8> {
    let mut out = Vec::new();
    let headers: [(&[u8], &[u8]); 1] = [(b"x-app", b"1")];
    protocol::encode_head(&mut out, status, headers).unwrap();
    out
}

fn end(outcome: Outcome) -> Vec<u8> {
    let mut out = Vec::new();
    protocol::encode_end(&mut out, outcome);
    out
}

fn log_line(message: &str) -> Vec<u8> {
    let mut out = Vec::new();
    protocol::encode_log(&mut out, 3, message.as_bytes()).unwrap();
    out
}

fn serve_with(group: &Group, recorder: Recorder, socket_timeout: Duration) -> (c_int, Recorder) {
    let nothing = Pairs::with_capacity(0, 0);
    let request = Outgoing {
        app_file: Path::new("/srv/app.so"),
        init_config: &nothing,
        environ: &nothing,
        config: &nothing,
    };
    let mut response = Exchange::new(recorder);
    let status = serve(&mut response, &group.route(socket_timeout), request);
    (status, response.into_transport())
}

#[test]
fn a_response_is_relayed_and_its_connection_kept() {
    let mut group = Group::new("relay-ok");
    let daemon = group.daemon(vec![Box::new(|reader, writer| {
        take_request(reader);
        send(
            writer,
            &[
                accepted(77),
                log_line("app says hi"),
                head(201),
                frame(Kind::Data, b"hello"),
                frame(Kind::Flush, b""),
                end(Outcome::Ok),
            ],
        );
        // Held open: the child keeps the connection for the next request.
        let mut rest = Vec::new();
        let _ = reader.get_mut().read_to_end(&mut rest);
    })]);
    let (status, recorder) = serve_with(&group, Recorder::default(), Duration::from_secs(5));
    assert_eq!(status, HANDLED);
    assert_eq!(recorder.ending, Some(Ending::Complete));
    assert_eq!(recorder.events, ["head 201", "write hello", "flush"]);
    assert_eq!(recorder.label, "group relay-ok, pid 77");
    assert_eq!(recorder.logs, ["group relay-ok, pid 77: app says hi"]);
    let kept = POOL.take(&group.socket).expect("the connection was kept");
    assert_eq!(kept.pid, 77);
    drop(kept);
    daemon.join().unwrap();
}

#[test]
fn the_body_goes_to_the_daemon_only_when_it_asks() {
    let mut group = Group::new("relay-body");
    let daemon = group.daemon(vec![Box::new(|reader, writer| {
        take_request(reader);
        let mut ask = |kind: Kind, max: u32| {
            let mut out = Vec::new();
            match kind {
                Kind::Read => protocol::encode_read(&mut out, max).unwrap(),
                _ => protocol::encode_read_now(&mut out, max).unwrap(),
            }
            send(writer, &[out]);
            let (kind, payload) = reader.read_frame().unwrap();
            (kind, payload.to_vec())
        };
        send(writer, &[accepted(5)]);
        assert_eq!(ask(Kind::Read, 4), (Kind::Body, b"abcd".to_vec()));
        assert_eq!(ask(Kind::ReadNow, 100), (Kind::Body, b"ef".to_vec()));
        assert_eq!(ask(Kind::ReadNow, 100), (Kind::BodyEnd, Vec::new()));
        send(writer, &[head(200), end(Outcome::Ok)]);
    })]);
    let recorder = Recorder {
        body: b"abcdef".to_vec(),
        has_body: true,
        ..Recorder::default()
    };
    let (status, recorder) = serve_with(&group, recorder, Duration::from_secs(5));
    daemon.join().unwrap();
    assert_eq!(status, HANDLED);
    assert_eq!(recorder.events, ["head 200"]);
}

#[test]
fn a_connection_closed_unread_is_tried_again_on_a_new_one() {
    let mut group = Group::new("relay-retry");
    let daemon = group.daemon(vec![
        // A process stopping with the request queued: closed, unread.
        Box::new(|reader, _writer| {
            let _ = reader.get_ref().shutdown(std::net::Shutdown::Both);
        }),
        Box::new(|reader, writer| {
            take_request(reader);
            send(writer, &[accepted(9), head(200), end(Outcome::Ok)]);
        }),
    ]);
    let (status, recorder) = serve_with(&group, Recorder::default(), Duration::from_secs(5));
    daemon.join().unwrap();
    assert_eq!(status, HANDLED);
    assert_eq!(recorder.ending, Some(Ending::Complete));
    assert!(recorder.logs.is_empty(), "{:?}", recorder.logs);
}

#[test]
fn protocol_breaches_are_a_502_naming_the_process() {
    let mut unknown = protocol::frame_header(Kind::Data, 0);
    unknown[0] = 0xee;
    let cases: Vec<(&str, Vec<Vec<u8>>)> = vec![
        ("Data frame before ACCEPTED", vec![frame(Kind::Data, b"x")]),
        (
            "a FILE frame came without its descriptor",
            vec![
                accepted(3),
                head(200),
                FileRange::new(0, 1).unwrap().encode().to_vec(),
            ],
        ),
        ("unknown frame kind", vec![accepted(3), unknown.to_vec()]),
        (
            "unexpected BodyEnd frame",
            vec![accepted(3), frame(Kind::BodyEnd, b"")],
        ),
    ];
    for (i, (expected, frames)) in cases.into_iter().enumerate() {
        let mut group = Group::new(&format!("relay-breach-{i}"));
        let daemon = group.daemon(vec![Box::new(move |reader, writer| {
            take_request(reader);
            send(writer, &frames);
        })]);
        let (status, recorder) = serve_with(&group, Recorder::default(), Duration::from_secs(5));
        daemon.join().unwrap();
        // A HEAD alone starts nothing: the client gets the 502.
        assert_eq!(status, BAD_GATEWAY, "{expected}");
        assert_eq!(recorder.ending, None);
        assert!(recorder.events.is_empty());
        let line = recorder.logs.last().expect("a log line");
        let pid = if i == 0 { 0 } else { 3 };
        let from = format!("protocol error from group relay-breach-{i} (pid {pid})");
        assert!(line.contains(&from), "{line}");
        assert!(line.contains(expected), "{expected}: {line}");
    }
}

#[test]
fn a_reject_is_its_status_with_retry_after() {
    let mut group = Group::new("relay-reject");
    let daemon = group.daemon(vec![Box::new(|reader, writer| {
        take_request(reader);
        let mut out = Vec::new();
        protocol::encode_reject(&mut out, 503, 7, b"the queue is full").unwrap();
        send(writer, &[out]);
    })]);
    let (status, recorder) = serve_with(&group, Recorder::default(), Duration::from_secs(5));
    daemon.join().unwrap();
    assert_eq!(status, 503);
    assert_eq!(recorder.retry_after, Some(7));
    assert_eq!(
        recorder.logs,
        ["group relay-reject: request refused: the queue is full"]
    );
}

#[test]
fn an_app_failure_after_the_head_cuts_the_response_short() {
    let mut group = Group::new("relay-cut");
    let daemon = group.daemon(vec![Box::new(|reader, writer| {
        take_request(reader);
        send(
            writer,
            &[
                accepted(4),
                head(200),
                frame(Kind::Data, b"part"),
                end(Outcome::Error),
            ],
        );
    })]);
    let (status, recorder) = serve_with(&group, Recorder::default(), Duration::from_secs(5));
    daemon.join().unwrap();
    assert_eq!(status, HANDLED);
    assert_eq!(recorder.ending, Some(Ending::CutShort(Failure::App)));
    assert_eq!(recorder.events, ["head 200", "write part"]);
    assert_eq!(
        recorder.logs,
        ["group relay-cut, pid 4 failed after its response started; the response was cut short"]
    );
}

#[test]
fn silence_is_a_timeout_that_names_its_phase() {
    // Nothing after the REQUEST: no process took it.
    let mut group = Group::new("relay-queued");
    let daemon = group.daemon(vec![Box::new(|reader, _writer| {
        take_request(reader);
        thread::sleep(Duration::from_millis(600));
    })]);
    let (status, recorder) = serve_with(&group, Recorder::default(), Duration::from_millis(200));
    daemon.join().unwrap();
    assert_eq!(status, SERVICE_UNAVAILABLE);
    assert_eq!(recorder.retry_after, Some(1));
    assert!(recorder.logs[0].contains("no process took the request within queue-timeout"));

    // Silence after the head: the response stalled.
    let mut group = Group::new("relay-stalled");
    let daemon = group.daemon(vec![Box::new(|reader, writer| {
        take_request(reader);
        send(writer, &[accepted(8), head(200), frame(Kind::Data, b"a")]);
        thread::sleep(Duration::from_millis(600));
    })]);
    let (status, recorder) = serve_with(&group, Recorder::default(), Duration::from_millis(200));
    daemon.join().unwrap();
    assert_eq!(status, HANDLED);
    assert_eq!(recorder.ending, Some(Ending::CutShort(Failure::App)));
    assert!(recorder.logs[0].contains("the response stalled for socket-timeout"));
}

#[test]
fn a_group_without_a_listener_is_a_503() {
    let group = Group::new("relay-gone");
    std::fs::remove_file(&group.socket).unwrap();
    let (status, recorder) = serve_with(&group, Recorder::default(), Duration::from_secs(1));
    assert_eq!(status, SERVICE_UNAVAILABLE);
    assert!(
        recorder.logs[0].contains("cannot connect to"),
        "{:?}",
        recorder.logs
    );
}
