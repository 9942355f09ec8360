//! One request's conversation with the Apache child, as the app's callbacks
//! drive it: body reads become READ frames answered by BODY, BODY_END or
//! BODY_ERROR; the status and headers are kept until the body starts; writes
//! are coalesced into DATA frames.
//!
//! Once the app has read a piece of the body, the daemon asks for the next
//! with READ_NOW, which the child answers with what the client has sent
//! already, without waiting for more: the child reads the client while the
//! app works on the piece it has. Since that answer never waits for the
//! client, the daemon may read it before it writes anything (so neither side
//! is ever blocked writing while the other is too), and an app that answers
//! one message of a client before it reads the next still works.
//!
//! Memory is bounded: at most one 64 KiB buffer of pending output and two
//! pieces of body (the one the app reads, the one read ahead).

use std::io::{self, BufReader, Read, Write};
use std::os::fd::BorrowedFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::acceptance::Armed;
use crate::log;
use rustgi_abi::RustgiHostApi;

use rustgi_contract::passed_fds;
use rustgi_contract::protocol::{
    self, FileRange, FrameReader, Kind, MAX_DATA_PAYLOAD, MAX_READ, Outcome,
};
use rustgi_host::exchange::callbacks::{self, Host};
use rustgi_host::exchange::{CheckedHeader, Ending, InputLost, Transport};

/// The services a daemon process offers to apps: the ABI's callbacks over
/// a [`Conversation`].
pub static HOST_API: RustgiHostApi = callbacks::host_api::<Conversation>();

/// Writes are gathered into DATA frames of up to this size.
pub const COALESCE: usize = 64 << 10;

/// When the process last did something for a request, for the inactivity
/// timeout.
#[derive(Debug)]
pub struct Activity {
    start: Instant,
    last_ms: AtomicU64,
}

impl Default for Activity {
    fn default() -> Activity {
        Activity {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }
}

impl Activity {
    pub fn touch(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.last_ms.fetch_max(ms, Ordering::Relaxed);
    }

    /// How long ago the last activity was.
    pub fn idle_for(&self) -> Duration {
        let now = self.start.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.last_ms.load(Ordering::Relaxed)))
    }
}

/// How long the app of one request has been working: the time since the
/// request started, less the time the daemon waited for the client (for
/// request body bytes, or for room to send response bytes). request-timeout
/// is measured on it: the client's pace is Apache's business (`Timeout`,
/// mod_reqtimeout), and a slow upload must not recycle the process.
///
/// Written by the worker serving the request, read by the monitor.
#[derive(Debug)]
pub struct RequestClock {
    origin: Instant,
    /// Microseconds since `origin`.
    started: AtomicU64,
    /// When the current wait began, or [`Self::NOT_WAITING`].
    waiting_since: AtomicU64,
    /// The waits that ended, in microseconds.
    waited: AtomicU64,
}

impl Default for RequestClock {
    fn default() -> RequestClock {
        RequestClock {
            origin: Instant::now(),
            started: AtomicU64::new(0),
            waiting_since: AtomicU64::new(Self::NOT_WAITING),
            waited: AtomicU64::new(0),
        }
    }
}

impl RequestClock {
    const NOT_WAITING: u64 = u64::MAX;

    fn now_us(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_micros()).unwrap_or(u64::MAX - 1)
    }

    /// A request starts.
    pub fn start(&self) {
        self.start_at(self.now_us());
    }

    fn start_at(&self, now: u64) {
        self.waiting_since
            .store(Self::NOT_WAITING, Ordering::SeqCst);
        self.waited.store(0, Ordering::SeqCst);
        self.started.store(now, Ordering::SeqCst);
    }

    /// Runs `wait`, a wait for the client, off the app's clock.
    pub fn waiting<T>(&self, wait: impl FnOnce() -> T) -> T {
        self.begin_wait(self.now_us());
        let outcome = wait();
        self.end_wait(self.now_us());
        outcome
    }

    fn begin_wait(&self, now: u64) {
        self.waiting_since.store(now, Ordering::SeqCst);
    }

    fn end_wait(&self, now: u64) {
        let since = self.waiting_since.load(Ordering::SeqCst);
        // Added before the wait is closed: a reader in between counts the
        // wait twice, so it may see too little app time, never too much.
        self.waited
            .fetch_add(now.saturating_sub(since), Ordering::SeqCst);
        self.waiting_since
            .store(Self::NOT_WAITING, Ordering::SeqCst);
    }

    /// The app's own time so far.
    pub fn app_time(&self) -> Duration {
        Duration::from_micros(self.app_time_at(self.now_us()))
    }

    fn app_time_at(&self, now: u64) -> u64 {
        let since = self.waiting_since.load(Ordering::SeqCst);
        let current = if since == Self::NOT_WAITING {
            0
        } else {
            now.saturating_sub(since)
        };
        let waited = self.waited.load(Ordering::SeqCst);
        let started = self.started.load(Ordering::SeqCst);
        now.saturating_sub(started)
            .saturating_sub(waited)
            .saturating_sub(current)
    }
}

/// A READ or READ_NOW the child has not answered yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Asked {
    Read,
    ReadNow,
}

/// The child's answer to a READ or READ_NOW.
enum Answer {
    /// This many bytes, in the buffer given.
    Bytes(usize),
    End,
    Failed,
    /// Nothing has come from the client yet (READ_NOW only).
    Later,
}

/// An answer read ahead, before the app asked for it.
enum Ahead {
    Bytes(Vec<u8>),
    End,
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyState {
    /// More may come (the daemon may send READ).
    Open,
    /// BODY_END came, or the request has no body.
    Done,
    /// BODY_ERROR came.
    Failed,
}

/// The reader of a connection: frames from a read-ahead buffer, so a
/// request usually arrives in one system call.
pub type Reader = FrameReader<BufReader<UnixStream>>;

/// A reader for `stream`.
pub fn reader(stream: UnixStream) -> Reader {
    FrameReader::new(BufReader::with_capacity(64 << 10, stream))
}

/// The daemon's side of one request a worker took.
pub struct Conversation {
    /// The request's preface and ACCEPTED, at the start of `out` until the
    /// first write claims them (see [`crate::acceptance`]). Declared before
    /// `reader`, so dropped before the connection.
    first: Option<Armed>,
    reader: Reader,
    /// Frames not written yet: HEAD, DATA and END of a small response go out
    /// in one write. Written before the daemon waits for the child, on
    /// FLUSH, when large, and at the end.
    out: Vec<u8>,
    activity: &'static Activity,
    clock: &'static RequestClock,
    /// `app FILE`, for log lines.
    label: String,
    body: BodyState,
    /// The HEAD frame of the response, encoded, once the body started.
    head: Option<Vec<u8>>,
    head_sent: bool,
    /// DATA not sent yet (payload only).
    pending: Vec<u8>,
    /// Body bytes received and not yet read by the app, from `body_at`.
    body_buf: Vec<u8>,
    body_at: usize,
    /// The READ or READ_NOW out, unanswered.
    asked: Option<Asked>,
    /// An answer read before the app asked for it.
    ahead: Option<Ahead>,
    /// A piece's buffer, for the next answer read ahead.
    spare: Vec<u8>,
    /// The child went away or broke the protocol: every callback fails.
    gone: bool,
}

impl Conversation {
    /// A conversation on `reader`, the connection `first` was armed for.
    pub fn new(
        reader: Reader,
        first: Armed,
        activity: &'static Activity,
        clock: &'static RequestClock,
        app: String,
        has_body: bool,
    ) -> Conversation {
        // Room for a small response's frames, written at once.
        let mut out = Vec::with_capacity(1024);
        first.encode_frames(&mut out);
        Conversation {
            first: Some(first),
            reader,
            out,
            activity,
            clock,
            label: format!("app {app}"),
            body: if has_body {
                BodyState::Open
            } else {
                BodyState::Done
            },
            head: None,
            head_sent: false,
            pending: Vec::new(),
            body_buf: Vec::new(),
            body_at: 0,
            asked: None,
            ahead: None,
            spare: Vec::new(),
            gone: false,
        }
    }

    fn stream(&self) -> &UnixStream {
        self.reader.get_ref().get_ref()
    }

    /// Notes that the child is unusable.
    fn lost(&mut self, what: &str, e: &io::Error) {
        if !self.gone {
            self.gone = true;
            let level = if e.kind() == io::ErrorKind::InvalidData {
                log::WARNING
            } else {
                log::INFO
            };
            log::log(
                level,
                &format!("{}: the Apache child went away {what}: {e}", self.label),
            );
        }
    }

    /// Queues a frame; a large payload goes out at once, after what is
    /// queued, without being copied.
    fn send(&mut self, kind: Kind, payload: &[u8]) -> bool {
        if self.gone {
            return false;
        }
        if payload.len() < COALESCE {
            if protocol::encode_frame(&mut self.out, kind, payload).is_err() {
                return false;
            }
            return self.out.len() < COALESCE || self.push(kind.name());
        }
        if !self.push(kind.name()) {
            return false;
        }
        let mut stream = self.stream();
        match protocol::write_frame(&mut stream, kind, payload) {
            Ok(()) => {
                self.activity.touch();
                true
            }
            Err(e) => {
                self.lost(&format!("while sending {kind}"), &e);
                false
            }
        }
    }

    /// Queues encoded frames.
    fn send_raw(&mut self, bytes: &[u8]) -> bool {
        if self.gone {
            return false;
        }
        self.out.extend_from_slice(bytes);
        self.out.len() < COALESCE || self.push("frames")
    }

    /// Before the first write: takes the request's first frames over from
    /// the monitor thread, dropping from `out` what it sent already.
    fn claim_first(&mut self) {
        if let Some(first) = self.first.take() {
            let sent = first.claim();
            self.out.drain(..sent);
        }
    }

    /// Writes the queued frames, after reading the answer to a READ_NOW
    /// that is out (which comes without waiting for the client).
    fn push(&mut self, what: &str) -> bool {
        if self.gone || !self.settle() {
            return false;
        }
        self.claim_first();
        if self.out.is_empty() {
            return true;
        }
        // Blocks only while the child cannot take more, that is while the
        // client reads slowly: off the app's clock.
        let stream = self.reader.get_ref().get_ref();
        let written = self.clock.waiting(|| (&*stream).write_all(&self.out));
        self.out.clear();
        match written {
            Ok(()) => {
                self.activity.touch();
                true
            }
            Err(e) => {
                self.lost(&format!("while sending {what}"), &e);
                false
            }
        }
    }

    /// Sends a log line of the app for this request to the child (which
    /// files it with the request); the daemon logs it itself when it cannot.
    pub fn send_log(&mut self, level: u8, message: &[u8]) {
        let level = level.min(protocol::MAX_LOG_LEVEL);
        // Room for the level and the string's length in the 1 MiB payload.
        let message = &message[..message.len().min(protocol::MAX_META_PAYLOAD as usize - 5)];
        let mut frame = Vec::with_capacity(message.len() + 16);
        if !self.gone
            && protocol::encode_log(&mut frame, level, message).is_ok()
            && self.send_raw(&frame)
            && self.push("LOG")
        {
            return;
        }
        log::log(level, &String::from_utf8_lossy(message));
    }

    /// Up to `buf.len()` body bytes, 0 at the end. The daemon asks the
    /// child for the most a READ may carry and keeps what the app did not
    /// take for its next reads: few round trips for a large upload. Then it
    /// asks for the next piece with READ_NOW.
    fn read_body_bytes(&mut self, buf: &mut [u8]) -> Result<usize, ()> {
        if self.gone {
            return Err(());
        }
        if self.body_at >= self.body_buf.len() && !self.next_piece()? {
            return Ok(0);
        }
        let n = buf.len().min(self.body_buf.len() - self.body_at);
        buf[..n].copy_from_slice(&self.body_buf[self.body_at..self.body_at + n]);
        self.body_at += n;
        Ok(n)
    }

    /// Puts the next piece of body in `body_buf`: true, or false at the end;
    /// Err after a BODY_ERROR or when the child is gone.
    fn next_piece(&mut self) -> Result<bool, ()> {
        let answer = match self.ahead.take() {
            Some(Ahead::Bytes(piece)) => {
                self.spare = std::mem::replace(&mut self.body_buf, piece);
                self.body_at = 0;
                self.read_ahead();
                return Ok(true);
            }
            Some(Ahead::End) => Answer::End,
            Some(Ahead::Failed) => Answer::Failed,
            None => match self.body {
                BodyState::Failed => return Err(()),
                BodyState::Done => return Ok(false),
                BodyState::Open => self.ask_and_wait()?,
            },
        };
        match answer {
            Answer::Bytes(_) => {
                self.read_ahead();
                Ok(true)
            }
            Answer::End | Answer::Later => {
                self.body = BodyState::Done;
                Ok(false)
            }
            Answer::Failed => {
                self.body = BodyState::Failed;
                Err(())
            }
        }
    }

    /// Sends a READ (unless a READ_NOW is out) and reads the answer into
    /// `body_buf`; never [`Answer::Later`].
    fn ask_and_wait(&mut self) -> Result<Answer, ()> {
        loop {
            let asked = match self.asked {
                Some(asked) => asked,
                None => {
                    if !self.ask(Kind::Read) {
                        return Err(());
                    }
                    Asked::Read
                }
            };
            self.asked = None;
            let mut piece = std::mem::take(&mut self.body_buf);
            // A READ waits for the client's bytes: off the app's clock.
            let clock = self.clock;
            let answer = clock.waiting(|| self.receive_body(&mut piece, asked));
            self.body_buf = piece;
            self.body_at = 0;
            match answer {
                Ok(Answer::Later) => continue,
                Ok(answer) => return Ok(answer),
                Err(e) => {
                    self.lost("while the app read the request body", &e);
                    return Err(());
                }
            }
        }
    }

    /// Sends a READ or READ_NOW for as much as a READ may carry, with what
    /// is queued.
    fn ask(&mut self, kind: Kind) -> bool {
        let mut frame = Vec::with_capacity(protocol::HEADER_LEN + 4);
        let encoded = if kind == Kind::ReadNow {
            protocol::encode_read_now(&mut frame, MAX_READ)
        } else {
            protocol::encode_read(&mut frame, MAX_READ)
        };
        encoded.is_ok() && self.send_raw(&frame) && self.push(kind.name())
    }

    /// Asks for the next piece of body without waiting for it.
    fn read_ahead(&mut self) {
        if self.body == BodyState::Open && self.asked.is_none() && self.ahead.is_none() {
            // Set after the push: push settles what is out.
            if self.ask(Kind::ReadNow) {
                self.asked = Some(Asked::ReadNow);
            }
        }
    }

    /// Reads the answer to a READ_NOW that is out, keeping it for the app's
    /// next read; false when the child is gone.
    fn settle(&mut self) -> bool {
        let Some(asked) = self.asked.take() else {
            return true;
        };
        let mut piece = std::mem::take(&mut self.spare);
        match self.receive_body(&mut piece, asked) {
            Ok(Answer::Bytes(n)) => {
                piece.truncate(n);
                self.ahead = Some(Ahead::Bytes(piece));
            }
            Ok(Answer::End) => self.ahead = Some(Ahead::End),
            Ok(Answer::Failed) => self.ahead = Some(Ahead::Failed),
            Ok(Answer::Later) => self.spare = piece,
            Err(e) => {
                self.lost("while reading ahead in the request body", &e);
                return false;
            }
        }
        true
    }

    /// Reads the child's answer to a READ or READ_NOW into `buf` (sized to
    /// the most a READ may carry, and truncated to the bytes that came).
    fn receive_body(&mut self, buf: &mut Vec<u8>, asked: Asked) -> io::Result<Answer> {
        let (kind, len) = self.reader.read_header()?;
        self.activity.touch();
        match kind {
            Kind::Body if len == 0 => Err(protocol::ProtocolError::Unexpected {
                kind,
                expected: "a BODY of at least one byte",
            }
            .into()),
            Kind::Body if len > MAX_READ => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("BODY of {len} bytes in answer to a READ of {MAX_READ} bytes"),
            )),
            Kind::Body => {
                let n = len as usize;
                buf.resize(n, 0);
                self.reader.get_mut().read_exact(buf)?;
                Ok(Answer::Bytes(n))
            }
            Kind::BodyEnd => {
                buf.clear();
                Ok(Answer::End)
            }
            Kind::BodyLater if asked == Asked::ReadNow => {
                buf.clear();
                Ok(Answer::Later)
            }
            Kind::BodyError => {
                buf.clear();
                let status = protocol::decode_body_error(self.reader.read_payload(len)?)?;
                log::debug(&format!(
                    "{}: the Apache child could not read the request body (status {status})",
                    self.label
                ));
                Ok(Answer::Failed)
            }
            other => Err(protocol::ProtocolError::Unexpected {
                kind: other,
                expected: if asked == Asked::ReadNow {
                    "BODY, BODY_END, BODY_ERROR or BODY_LATER"
                } else {
                    "BODY, BODY_END or BODY_ERROR"
                },
            }
            .into()),
        }
    }

    /// Sends the HEAD if it was not sent yet, then the pending DATA.
    fn send_pending(&mut self) -> bool {
        if !self.head_sent {
            let Some(head) = self.head.take() else {
                return false;
            };
            let sent = self.send_raw(&head);
            self.head = Some(head);
            if !sent {
                return false;
            }
            self.head_sent = true;
        }
        if !self.pending.is_empty() {
            let pending = std::mem::take(&mut self.pending);
            let sent = self.send(Kind::Data, &pending);
            self.pending = pending;
            self.pending.clear();
            if !sent {
                return false;
            }
        }
        true
    }

    /// Ends the request as the exchange decided: the head if never sent,
    /// the pending DATA and END, or END(1) when it failed. Gives the
    /// connection back when it can carry another request: END went out and
    /// nothing unread is left.
    pub fn end(mut self, ending: Ending) -> Option<Reader> {
        // Before the reader may be dropped, below.
        self.claim_first();
        if self.gone {
            return None;
        }
        let ok = ending == Ending::Complete;
        if ok && !self.send_pending() {
            return None;
        }
        let mut end = Vec::with_capacity(protocol::HEADER_LEN + 1);
        protocol::encode_end(&mut end, if ok { Outcome::Ok } else { Outcome::Error });
        let sent = self.send_raw(&end) && self.push("END");
        let clean = self.reader.get_ref().buffer().is_empty();
        (sent && clean && !self.gone).then_some(self.reader)
    }
}

/// The daemon's side of the ABI: frames to the Apache child.
impl Transport for Conversation {
    /// The HEAD frame, encoded.
    type Head = Vec<u8>;

    /// The Apache child logs an app's failure with the group and the pid.
    const LOGS_APP_FAILURES: bool = false;

    fn label(&self) -> &str {
        &self.label
    }

    fn read_body(&mut self, buf: &mut [u8]) -> Result<usize, InputLost> {
        self.read_body_bytes(buf).map_err(|()| InputLost)
    }

    fn input_lost(&self) -> bool {
        self.gone || self.body == BodyState::Failed
    }

    /// The Apache child checks the head again: it is the trust boundary.
    /// Here the app learns at once, and a refused head never crosses the
    /// socket.
    fn prepare_head(
        &mut self,
        status: u16,
        headers: &[CheckedHeader<'_>],
    ) -> Result<Vec<u8>, String> {
        let mut frame = Vec::new();
        let pairs = headers.iter().map(|(name, value, _)| (*name, *value));
        protocol::encode_head(&mut frame, status, pairs)
            .map_err(|e| format!("the headers do not fit the protocol: {e}"))?;
        Ok(frame)
    }

    fn begin_body(&mut self, head: Vec<u8>) {
        self.head = Some(head);
    }

    /// Body bytes, coalesced.
    fn write(&mut self, bytes: &[u8]) -> bool {
        if self.gone {
            return false;
        }
        if bytes.len() >= COALESCE {
            // Large writes go out directly, after what is pending.
            return self.send_pending()
                && bytes
                    .chunks(MAX_DATA_PAYLOAD as usize)
                    .all(|chunk| self.send(Kind::Data, chunk));
        }
        if self.pending.len() + bytes.len() > COALESCE && !self.send_pending() {
            return false;
        }
        if self.pending.capacity() == 0 && !bytes.is_empty() {
            self.pending.reserve_exact(COALESCE);
        }
        self.pending.extend_from_slice(bytes);
        true
    }

    /// The head, pending DATA, then FLUSH.
    fn flush(&mut self) -> bool {
        self.send_pending() && self.send(Kind::Flush, &[]) && self.push("FLUSH")
    }

    /// A FILE frame that carries the descriptor (after the head and the
    /// DATA before it): the Apache child sends the file itself and this
    /// process never reads it.
    fn send_file(&mut self, fd: BorrowedFd<'_>, range: FileRange) -> bool {
        if !self.send_pending() || !self.push("FILE") {
            return false;
        }
        // Blocks only while the child cannot take more: off the app's clock.
        let stream = self.reader.get_ref().get_ref();
        let sent = self
            .clock
            .waiting(|| passed_fds::send_with_fd(stream, &range.encode(), fd));
        match sent {
            Ok(()) => {
                self.activity.touch();
                true
            }
            Err(e) => {
                self.lost("while sending FILE", &e);
                false
            }
        }
    }

    fn log(&mut self, level: i32, message: &str) {
        let level = u8::try_from(level.clamp(0, i32::from(log::MAX))).unwrap_or(log::MAX);
        self.send_log(level, message.as_bytes());
    }
}

impl Host for Conversation {
    /// Lines outside a request are the daemon's own.
    type Scope = ();

    fn api() -> &'static RustgiHostApi {
        &HOST_API
    }

    fn log_outside(_: Option<&()>, level: i32, message: &str) {
        let level = u8::try_from(level.clamp(0, i32::from(log::MAX))).unwrap_or(log::MAX);
        log::log(level, message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustgi_abi as abi;

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
    use crate::acceptance::Acceptance;
    use rustgi_contract::protocol::{Frame, ResponseHead};
    use rustgi_host::exchange::Exchange;
    use std::os::fd::AsFd;

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
}
