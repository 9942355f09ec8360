//! Serving: the worker threads, the monitor and the signal thread, and how
//! the process stops.
//!
//! Idle workers wait together on one epoll instance that watches the
//! group's listening socket and the connections kept between requests, each
//! reported to one worker at a time ("one shot"). The worker that is told
//! about a source serves it itself: it accepts (or takes the kept
//! connection), arms the listener again for the next idle worker, reads the
//! request and runs the app, with no hand-over between threads. Only idle
//! workers wait, so a process with none idle accepts nothing, and new
//! connections stay in the kernel's backlog of the group's socket for
//! whichever process of the group is free first.
//!
//! Stopping: a recycle trigger (maximum-requests, restart-interval,
//! inactivity-timeout, memory-limit, cpu-time-limit, script reloading,
//! request-timeout, SIGUSR1) stops the accepting and gives the requests in
//! flight up to graceful_timeout; SIGTERM or SIGINT give them up to
//! shutdown_timeout (shortening a graceful stop under way). When none is
//! left the apps' shutdown runs and the process exits 0; when some still run
//! at the deadline it exits 0 at once, without calling shutdown (a hung
//! handle cannot be stopped, and the instance is still in use).

mod monitor;

use std::collections::HashMap;
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixListener;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGXCPU};
use signal_hook::iterator::Signals;

use crate::acceptance::Acceptance;
use crate::apps::Apps;
use crate::belonging::Belonging;
use crate::config::Config;
use crate::request::{self, Activity, Conversation, Reader, RequestClock};
use crate::setup::Identity;
use crate::{log, sys};
use rustgi_contract::protocol::{self, Kind, RequestHead};
use rustgi_host::exchange::callbacks::{self, HostCtx};

/// A connection to serve: new, or back for another request.
struct Conn {
    reader: Reader,
    peer: sys::PeerCred,
    /// It carried a request before: no preface either way.
    reused: bool,
    /// Its token in the epoll set, once it has been kept there.
    token: Option<u64>,
}

impl Conn {
    fn fd(&self) -> std::os::fd::RawFd {
        self.reader.get_ref().get_ref().as_raw_fd()
    }
}

/// A connection kept between requests.
struct Kept {
    conn: Conn,
    since: Instant,
}

/// The epoll token of the listening socket; connections count up from 0.
const LISTENER: u64 = u64::MAX;
/// How long a connection may wait for its next request.
const IDLE_CONNECTION: Duration = Duration::from_secs(60);
/// How many idle connections a process keeps; more are closed after their
/// request (the Apache child opens another when it needs one).
const MAX_IDLE_CONNECTIONS: usize = 1024;

/// A request a worker is running, for the request timeout.
struct Running {
    uri: String,
    reported: bool,
}

struct Stop {
    deadline: Instant,
    /// SIGTERM/SIGINT rather than a graceful recycle.
    hard: bool,
    /// Why, for the status page.
    why: String,
}

struct State {
    /// Workers not serving a connection.
    idle: usize,
    /// Requests handed to an app.
    served: u64,
    stop: Option<Stop>,
    /// Ready sources a worker left alone because maximum-requests leaves no
    /// room; armed again when room comes back.
    parked: Vec<u64>,
    /// When a worker last finished with a connection (Unix seconds).
    last_done_unix: u64,
    /// Requests refused for waiting past queue-timeout, and the last time.
    queue_timeouts: u64,
    last_queue_timeout_unix: Option<u64>,
}

/// Why the process stops.
pub enum StopCause {
    /// A graceful recycle; the text says why (logged as `recycling: ...`).
    Recycle(String),
    /// SIGTERM or SIGINT, or the group is gone; the text says which.
    Shutdown(String),
}

pub struct Shared {
    config: Config,
    pid: u32,
    user: String,
    started_unix: u64,
    apps: Apps,
    started: Instant,
    activity: Activity,
    state: Mutex<State>,
    /// Stop requests, and requests finished while stopping: the main
    /// thread.
    cond: Condvar,
    running: Vec<Mutex<Option<Running>>>,
    /// The app time of each worker's request, by slot (request-timeout).
    clocks: Vec<RequestClock>,
    /// The ACCEPTED of each worker's request, by slot.
    acceptances: Vec<Acceptance>,
    listener: UnixListener,
    /// Where the idle workers wait for the listener and the kept
    /// connections.
    epoll: sys::Epoll,
    /// Connections between requests, by token (never reused, so a report
    /// for a connection closed meanwhile finds nothing).
    kept: Mutex<HashMap<u64, Kept>>,
    next_token: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    fn in_flight(&self, st: &State) -> usize {
        self.config.threads - st.idle
    }

    /// Whether maximum-requests leaves room for `more` requests besides
    /// those served and in flight.
    fn has_room(&self, st: &State, more: u64) -> bool {
        let max = self.config.maximum_requests;
        max == 0 || st.served + self.in_flight(st) as u64 + more <= max
    }

    fn shutting_down(&self) -> bool {
        self.state().stop.as_ref().is_some_and(|s| s.hard)
    }

    fn stopping(&self) -> bool {
        self.state().stop.is_some()
    }

    /// Starts stopping (or shortens a graceful stop for a shutdown).
    pub fn request_stop(&self, cause: StopCause) {
        let now = Instant::now();
        let graceful = Duration::from_secs(self.config.graceful_timeout);
        let shutdown = Duration::from_secs(self.config.shutdown_timeout);
        {
            let mut st = self.state();
            match (&mut st.stop, cause) {
                (None, StopCause::Recycle(why)) => {
                    log::notice(&format!("recycling: {why}"));
                    st.stop = Some(Stop {
                        deadline: now + graceful,
                        hard: false,
                        why,
                    });
                }
                (None, StopCause::Shutdown(signal)) => {
                    log::notice(&format!("shutting down: {signal}"));
                    st.stop = Some(Stop {
                        deadline: now + shutdown,
                        hard: true,
                        why: signal,
                    });
                }
                (Some(stop), StopCause::Shutdown(signal)) if !stop.hard => {
                    log::notice(&format!("shutting down: {signal} during a graceful stop"));
                    stop.deadline = stop.deadline.min(now + shutdown);
                    stop.hard = true;
                }
                (Some(_), StopCause::Recycle(why)) => {
                    log::debug(&format!("already stopping; not recycling again: {why}"));
                    return;
                }
                (Some(_), StopCause::Shutdown(_)) => return,
            }
        }
        self.cond.notify_all();
        // Nothing new is taken: closing the kept connections tells the
        // Apache children to send their next requests elsewhere.
        let _ = self.epoll.remove(self.listener.as_raw_fd());
        lock(&self.kept).clear();
    }
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros() as u64
}

/// Serves until the process stops; the exit code.
pub fn run(
    config: Config,
    identity: &Identity,
    listener: UnixListener,
    belonging: Belonging,
    apps: Apps,
    process: u32,
) -> i32 {
    if let Err(e) = listener.set_nonblocking(true) {
        log::error(&format!(
            "cannot make the listening socket non-blocking: {e}"
        ));
        return 1;
    }
    let epoll = match sys::Epoll::new() {
        Ok(epoll) => epoll,
        Err(e) => {
            log::error(&format!("cannot create an epoll instance: {e}"));
            return 1;
        }
    };
    let signals = match Signals::new([SIGTERM, SIGINT, SIGUSR1, SIGXCPU, SIGHUP]) {
        Ok(s) => s,
        Err(e) => {
            log::error(&format!("cannot handle signals: {e}"));
            return 1;
        }
    };
    // The module execs daemons with these blocked (see its spawn code): one
    // sent meanwhile is delivered now, to the handler.
    if let Err(e) = sys::unblock_signals(&[SIGUSR1, SIGHUP]) {
        log::error(&format!("cannot unblock SIGUSR1 and SIGHUP: {e}"));
        return 1;
    }

    let threads = config.threads;
    let started_unix = now_us() / 1_000_000;
    // Lives as long as the process: the threads never end on their own.
    let shared: &'static Shared = Box::leak(Box::new(Shared {
        pid: std::process::id(),
        user: identity.user.clone(),
        started_unix,
        apps,
        started: Instant::now(),
        activity: Activity::default(),
        state: Mutex::new(State {
            idle: threads,
            served: 0,
            stop: None,
            parked: Vec::new(),
            last_done_unix: started_unix,
            queue_timeouts: 0,
            last_queue_timeout_unix: None,
        }),
        cond: Condvar::new(),
        running: (0..threads).map(|_| Mutex::new(None)).collect(),
        clocks: (0..threads).map(|_| RequestClock::default()).collect(),
        acceptances: (0..threads)
            .map(|_| Acceptance::new(std::process::id()))
            .collect(),
        listener,
        epoll,
        kept: Mutex::new(HashMap::new()),
        next_token: AtomicU64::new(0),
        config,
    }));
    shared.activity.touch();
    if let Err(e) = shared.epoll.add(shared.listener.as_raw_fd(), LISTENER) {
        log::error(&format!("cannot watch the listening socket: {e}"));
        return 1;
    }

    let spawned = (|| -> io::Result<()> {
        spawn("rustgi-signals", 0, move || signal_thread(shared, signals))?;
        for slot in 0..threads {
            spawn(&format!("rustgi-worker-{slot}"), 8 << 20, move || {
                worker(shared, slot)
            })?;
        }
        spawn("rustgi-monitor", 0, move || {
            monitor::monitor(shared, &belonging)
        })?;
        Ok(())
    })();
    if let Err(e) = spawned {
        log::error(&format!("cannot start a thread: {e}"));
        return 1;
    }
    log::notice(&format!(
        "process {} ready, {threads} threads, user {}",
        shared.pid, identity.user
    ));
    log::debug(&format!(
        "process number {process}, uid {}, gid {}, home {}",
        identity.uid,
        identity.gid,
        identity.home.display()
    ));

    monitor::write_status(shared);
    let drained = wait_for_stop(shared);
    monitor::write_status(shared);
    let st = shared.state();
    let served = st.served;
    if !drained {
        log::warn(&format!(
            "process {} exiting with {} requests still running at the deadline ({} served)",
            shared.pid,
            shared.in_flight(&st),
            served
        ));
        sys::exit_now(0);
    }
    drop(st);
    if shared.config.shutdown_timeout > 0 {
        // A shutdown that hangs does not keep the process.
        let limit = Duration::from_secs(shared.config.shutdown_timeout);
        let _ = spawn("rustgi-reaper", 0, move || {
            std::thread::sleep(limit);
            log::warn(&format!(
                "the apps' shutdown did not return within {} s; exiting",
                limit.as_secs()
            ));
            sys::exit_now(0);
        });
    }
    shared.apps.shutdown_all();
    log::notice(&format!(
        "process {} exiting: {served} requests served",
        shared.pid
    ));
    0
}

fn spawn(
    name: &str,
    stack: usize,
    f: impl FnOnce() + Send + 'static,
) -> io::Result<std::thread::JoinHandle<()>> {
    let mut builder = std::thread::Builder::new().name(name.to_owned());
    if stack > 0 {
        builder = builder.stack_size(stack);
    }
    builder.spawn(f)
}

/// Waits for a stop, then for the requests in flight until its deadline;
/// whether none is left.
fn wait_for_stop(shared: &Shared) -> bool {
    let mut st = shared.state();
    loop {
        let Some(stop) = &st.stop else {
            st = shared.cond.wait(st).unwrap_or_else(PoisonError::into_inner);
            continue;
        };
        if shared.in_flight(&st) == 0 {
            return true;
        }
        let now = Instant::now();
        if now >= stop.deadline {
            return false;
        }
        let left = stop.deadline - now;
        st = shared
            .cond
            .wait_timeout(st, left)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
}

fn signal_thread(shared: &'static Shared, mut signals: Signals) {
    for signal in signals.forever() {
        match signal {
            SIGTERM => shared.request_stop(StopCause::Shutdown("SIGTERM".into())),
            SIGINT => shared.request_stop(StopCause::Shutdown("SIGINT".into())),
            SIGUSR1 => shared.request_stop(StopCause::Recycle(
                "SIGUSR1 (graceful stop requested)".into(),
            )),
            SIGXCPU => shared.request_stop(StopCause::Recycle(format!(
                "CPU time limit of {} s reached (cpu-time-limit)",
                shared.config.cpu_time_limit
            ))),
            SIGHUP => log::info("ignoring SIGHUP"),
            _ => {}
        }
    }
}

fn worker(shared: &'static Shared, slot: usize) {
    loop {
        let token = match shared.epoll.wait_one() {
            Ok(Some(token)) => token,
            Ok(None) => continue,
            Err(e) => {
                log::error(&format!("epoll_wait failed: {e}"));
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
        };
        if !claim(shared, token) {
            continue;
        }
        let conn = if token == LISTENER {
            accept(shared)
        } else {
            lock(&shared.kept).remove(&token).map(|kept| kept.conn)
        };
        match conn {
            Some(conn) => serve_connection(shared, slot, conn),
            // Another process took it, or the connection was closed meanwhile.
            None => release(shared),
        }
    }
}

/// Makes this worker busy for a reported source; false when it must be left
/// alone: the process is stopping (then nothing arms it again), or
/// maximum-requests leaves no room (then it is parked).
fn claim(shared: &Shared, token: u64) -> bool {
    let mut st = shared.state();
    if st.stop.is_some() {
        return false;
    }
    if !shared.has_room(&st, 1) {
        st.parked.push(token);
        return false;
    }
    st.idle -= 1;
    true
}

/// Makes this worker idle again; arms the parked sources when there is room
/// for them.
fn release(shared: &Shared) {
    let parked = {
        let mut st = shared.state();
        st.idle += 1;
        if st.stop.is_some() {
            // The main thread waits for the last request in flight.
            shared.cond.notify_all();
            Vec::new()
        } else if !st.parked.is_empty() && shared.has_room(&st, 1) {
            std::mem::take(&mut st.parked)
        } else {
            Vec::new()
        }
    };
    for token in parked {
        arm_again(shared, token);
    }
}

/// Arms a source a worker was told about and did not take.
fn arm_again(shared: &Shared, token: u64) {
    let fd = if token == LISTENER {
        shared.listener.as_raw_fd()
    } else {
        match lock(&shared.kept).get(&token) {
            Some(kept) => kept.conn.fd(),
            None => return,
        }
    };
    // A stopping process no longer watches the listener.
    if let Err(e) = shared.epoll.rearm(fd, token)
        && !shared.stopping()
    {
        log::error(&format!("cannot watch a socket again: {e}"));
    }
}

/// Accepts a connection from the listener, then arms the listener for the
/// next idle worker; None when there is none (another process was quicker)
/// or it is refused.
fn accept(shared: &Shared) -> Option<Conn> {
    let accepted = shared.listener.accept();
    if !shared.stopping() {
        arm_again(shared, LISTENER);
    }
    let stream = match accepted {
        Ok((stream, _)) => stream,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock
                    | io::ErrorKind::Interrupted
                    | io::ErrorKind::ConnectionAborted
            ) =>
        {
            return None;
        }
        Err(e) => {
            // EMFILE and the like: wait rather than spin.
            log::error(&format!("accept failed: {e}"));
            std::thread::sleep(Duration::from_millis(100));
            return None;
        }
    };
    // accept4 gives a blocking socket even from a non-blocking listener.
    let peer = match sys::peer_cred(&stream) {
        Ok(peer) => peer,
        Err(e) => {
            log::error(&format!("cannot get the credentials of a connection: {e}"));
            return None;
        }
    };
    if peer.uid != 0 && !shared.config.peer_uids.contains(&peer.uid) {
        log::error(&format!(
            "refused a connection from uid {} (pid {})",
            peer.uid, peer.pid
        ));
        return None;
    }
    Some(Conn {
        reader: request::reader(stream),
        peer,
        reused: false,
        token: None,
    })
}

/// Serves the request of a connection this worker claimed, keeps the
/// connection for its next request (the child sends it only after END, so
/// nothing of it is buffered yet) and makes the worker idle.
fn serve_connection(shared: &'static Shared, slot: usize, conn: Conn) {
    shared.activity.touch();
    let (peer, token) = (conn.peer, conn.token);
    let (counted, back) = panic::catch_unwind(AssertUnwindSafe(|| serve(shared, slot, conn)))
        .unwrap_or_else(|_| {
            log::error("a worker thread panicked while serving a request");
            (false, None)
        });
    *lock(&shared.running[slot]) = None;
    shared.activity.touch();
    let served = {
        let mut st = shared.state();
        if counted {
            st.served += 1;
        }
        st.last_done_unix = now_us() / 1_000_000;
        st.served
    };
    let max = shared.config.maximum_requests;
    if counted && max > 0 && served >= max {
        shared.request_stop(StopCause::Recycle(format!(
            "{served} requests served (maximum-requests)"
        )));
    }
    if let Some(reader) = back {
        keep(
            shared,
            Conn {
                reader,
                peer,
                reused: true,
                token,
            },
        );
    }
    release(shared);
}

/// Keeps a connection between requests, watched for the next one; unless
/// the process is stopping (then closing it sends the child's next request
/// to another process).
fn keep(shared: &Shared, mut conn: Conn) {
    let mut kept = lock(&shared.kept);
    // request_stop closes the kept connections after setting stop: checked
    // under the same lock, none is kept after that.
    if shared.stopping() || kept.len() >= MAX_IDLE_CONNECTIONS {
        return;
    }
    let fd = conn.fd();
    let watched = match conn.token {
        Some(token) => shared.epoll.rearm(fd, token),
        None => {
            let token = shared.next_token.fetch_add(1, Ordering::Relaxed);
            conn.token = Some(token);
            shared.epoll.add(fd, token)
        }
    };
    if let Err(e) = watched {
        log::error(&format!("cannot watch a kept connection: {e}"));
        return;
    }
    let token = conn.token.unwrap_or_default();
    kept.insert(
        token,
        Kept {
            conn,
            since: Instant::now(),
        },
    );
}

/// Closes the connections that have waited too long for a request.
fn close_idle_connections(shared: &Shared) {
    lock(&shared.kept).retain(|_, kept| kept.since.elapsed() < IDLE_CONNECTION);
}

/// Sends a REJECT after `first` (the preface on a new connection); errors
/// only mean the child is gone.
fn reject(reader: &Reader, first: &[u8], status: u16, retry_after: u32, reason: &str) {
    let mut frame = first.to_vec();
    if protocol::encode_reject(&mut frame, status, retry_after, reason.as_bytes()).is_ok() {
        let _ = reader.get_ref().get_ref().write_all(&frame);
    }
}

/// Reads the child's preface and REQUEST.
fn read_request(reader: &mut Reader, reused: bool) -> io::Result<RequestHead> {
    if !reused {
        reader.read_preface()?;
    }
    let (kind, payload) = reader.read_frame()?;
    if kind != Kind::Request {
        return Err(protocol::ProtocolError::Unexpected {
            kind,
            expected: "REQUEST",
        }
        .into());
    }
    Ok(RequestHead::decode(payload)?)
}

/// Serves one request of a connection: whether it reached an app's handle,
/// and the connection when it can carry another.
fn serve(shared: &'static Shared, slot: usize, conn: Conn) -> (bool, Option<Reader>) {
    let Conn {
        mut reader,
        peer,
        reused,
        ..
    } = conn;
    let config = &shared.config;
    let who = format!("connection from pid {}", peer.pid);
    if !reused {
        let timeout =
            (config.socket_timeout > 0).then(|| Duration::from_secs(config.socket_timeout));
        let stream = reader.get_ref().get_ref();
        let prepared = stream
            .set_read_timeout(timeout)
            .and_then(|()| stream.set_write_timeout(timeout));
        if let Err(e) = prepared {
            log::info(&format!("{who}: {e}"));
            return (false, None);
        }
    }
    let head = match read_request(&mut reader, reused) {
        Ok(head) => head,
        // The child closed a connection it kept: nothing to say.
        Err(e) if reused && e.kind() == io::ErrorKind::UnexpectedEof => return (false, None),
        Err(e) => {
            let level = if e.kind() == io::ErrorKind::UnexpectedEof {
                log::INFO
            } else {
                log::WARNING
            };
            log::log(level, &format!("{who}: no valid request: {e}; closed"));
            return (false, None);
        }
    };
    let uri = head
        .environ
        .get(b"REQUEST_URI")
        .map(|u| String::from_utf8_lossy(u).into_owned())
        .unwrap_or_default();
    let app = String::from_utf8_lossy(&head.app_file).into_owned();
    let preface: &[u8] = if reused { &[] } else { &protocol::preface() };

    if config.queue_timeout > 0 {
        let waited_us = now_us().saturating_sub(head.queue_start_us);
        if waited_us > config.queue_timeout * 1_000_000 {
            let why = format!(
                "queue-timeout: request {uri} waited {:.1} s for a daemon thread, over the queue-timeout of {} s",
                waited_us as f64 / 1e6,
                config.queue_timeout
            );
            log::info(&why);
            {
                let mut st = shared.state();
                st.queue_timeouts += 1;
                st.last_queue_timeout_unix = Some(now_us() / 1_000_000);
            }
            reject(&reader, preface, 503, 1, &why);
            return (false, None);
        }
    }
    if !shared.apps.is_allowed(&head.app_file) {
        let why = format!(
            "app {app} is not served by daemon process group {}",
            config.group
        );
        log::error(&format!("refused request {uri}: {why}"));
        reject(&reader, preface, 500, 0, &why);
        return (false, None);
    }
    if shared.shutting_down() {
        reject(
            &reader,
            preface,
            503,
            0,
            "the daemon process is shutting down",
        );
        return (false, None);
    }
    // From here the request is this worker's: its ACCEPTED goes out with
    // its first frame (or from the monitor, for a slow app load or a silent
    // app).
    let acceptance = &shared.acceptances[slot];
    let armed = acceptance.arm(reader.get_ref().get_ref().as_fd(), !reused);
    shared.clocks[slot].start();
    *lock(&shared.running[slot]) = Some(Running {
        uri,
        reported: false,
    });
    let instance = match shared.apps.instance(&head.app_file, &head.init_config) {
        Ok(instance) => instance,
        Err(e) => {
            // After what the monitor sent of the preface and ACCEPTED, if
            // anything.
            let sent = armed.claim();
            let first = if sent > 0 {
                acceptance.frames(!reused).split_off(sent)
            } else {
                preface.to_vec()
            };
            reject(
                &reader,
                &first,
                500,
                0,
                &format!("app {app} could not be loaded: {e}"),
            );
            return (false, None);
        }
    };

    let ctx = HostCtx::for_request(
        (),
        Conversation::new(
            reader,
            armed,
            &shared.activity,
            &shared.clocks[slot],
            app,
            head.has_body,
        ),
    );
    let rc = callbacks::call_app(&instance, &head.environ, &head.config, &ctx);
    *lock(&shared.running[slot]) = None;
    let Some(mut exchange) = ctx.into_exchange() else {
        return (true, None);
    };
    let ending = exchange.finish(rc);
    (true, exchange.into_transport().end(ending))
}
