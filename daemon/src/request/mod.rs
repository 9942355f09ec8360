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
mod tests;
