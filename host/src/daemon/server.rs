//! Serving: the acceptor, the worker threads, the monitor and the signal
//! thread, and how the process stops.
//!
//! The acceptor waits until a worker is idle before it accepts, so that
//! connections nobody can serve yet stay in the kernel's backlog of the
//! group's socket, for whichever process of the group is free first. It
//! polls the (non-blocking) listener and a wake-up socket with a 1 s tick.
//!
//! Stopping: a recycle trigger (maximum-requests, restart-interval,
//! inactivity-timeout, memory-limit, cpu-time-limit, script reloading,
//! request-timeout, SIGUSR1) stops the accepting and gives the requests in
//! flight up to graceful_timeout; SIGTERM or SIGINT give them up to
//! shutdown_timeout (shortening a graceful stop under way). When none is
//! left the apps' shutdown runs and the process exits 0; when some still run
//! at the deadline it exits 0 at once, without calling shutdown (a hung
//! handle cannot be stopped, and the instance is still in use).

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use app_sdk::abi::{self, RustgiRequest};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGXCPU};
use signal_hook::iterator::Signals;

use super::apps::Apps;
use super::config::Config;
use super::host_api::{self, RequestCtx};
use super::request::{self, Activity, Conversation, Reader};
use super::setup::Identity;
use super::{log, status, sys};
use crate::protocol::{self, Kind, RequestHead};

/// A connection accepted for a worker.
/// A connection to serve: new, or back for another request.
struct Conn {
    reader: Reader,
    peer: sys::PeerCred,
    /// It carried a request before: no preface either way.
    reused: bool,
}

/// How long a connection may wait for its next request.
const IDLE_CONNECTION: Duration = Duration::from_secs(60);
/// How long a new connection may wait behind kept ones.
const LISTENER_PRIORITY: Duration = Duration::from_millis(100);
/// How many idle connections a process keeps.
const MAX_IDLE_CONNECTIONS: usize = 1024;

/// A request a worker is running, for the request timeout.
struct Running {
    since: Instant,
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
    /// Workers neither serving nor promised a queued connection.
    idle: usize,
    queue: VecDeque<Conn>,
    /// Connections the workers gave back after a request, for the acceptor
    /// to watch.
    returned: Vec<Conn>,
    /// Requests handed to an app.
    served: u64,
    stop: Option<Stop>,
}

/// Why the process stops.
pub enum StopCause {
    /// A graceful recycle; the text says why (logged as `recycling: ...`).
    Recycle(String),
    /// SIGTERM or SIGINT.
    Shutdown(&'static str),
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
    /// Stop requests and idle workers: the acceptor and the main thread.
    cond: Condvar,
    /// A connection is queued: one idle worker.
    work: Condvar,
    running: Vec<Mutex<Option<Running>>>,
    /// Written to wake the acceptor from its poll.
    wake: UnixStream,
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

    /// How many more connections the acceptor may hand to workers now: the
    /// idle workers, within what maximum-requests leaves.
    fn capacity(&self, st: &State) -> usize {
        if st.stop.is_some() {
            return 0;
        }
        let max = self.config.maximum_requests;
        if max == 0 {
            return st.idle;
        }
        let left = max.saturating_sub(st.served + self.in_flight(st) as u64);
        st.idle.min(usize::try_from(left).unwrap_or(usize::MAX))
    }

    /// Whether the acceptor may take another connection.
    fn may_accept(&self, st: &State) -> bool {
        self.capacity(st) > 0
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
                        why: signal.to_owned(),
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
        let _ = (&self.wake).write(&[1]);
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
    apps: Apps,
    process: u32,
) -> i32 {
    if let Err(e) = listener.set_nonblocking(true) {
        log::error(&format!(
            "cannot make the listening socket non-blocking: {e}"
        ));
        return 1;
    }
    let (wake_rx, wake_tx) = match UnixStream::pair() {
        Ok(pair) => pair,
        Err(e) => {
            log::error(&format!("cannot create the wake-up socket: {e}"));
            return 1;
        }
    };
    let _ = wake_rx.set_nonblocking(true);
    let _ = wake_tx.set_nonblocking(true);
    let signals = match Signals::new([SIGTERM, SIGINT, SIGUSR1, SIGXCPU, SIGHUP]) {
        Ok(s) => s,
        Err(e) => {
            log::error(&format!("cannot handle signals: {e}"));
            return 1;
        }
    };

    let threads = config.threads;
    // Lives as long as the process: the threads never end on their own.
    let shared: &'static Shared = Box::leak(Box::new(Shared {
        pid: std::process::id(),
        user: identity.user.clone(),
        started_unix: now_us() / 1_000_000,
        apps,
        started: Instant::now(),
        activity: Activity::default(),
        state: Mutex::new(State {
            idle: threads,
            queue: VecDeque::new(),
            returned: Vec::new(),
            served: 0,
            stop: None,
        }),
        cond: Condvar::new(),
        work: Condvar::new(),
        running: (0..threads).map(|_| Mutex::new(None)).collect(),
        wake: wake_tx,
        config,
    }));
    shared.activity.touch();

    let spawned = (|| -> io::Result<()> {
        spawn("rustgi-signals", 0, move || signal_thread(shared, signals))?;
        for slot in 0..threads {
            spawn(&format!("rustgi-worker-{slot}"), 8 << 20, move || {
                worker(shared, slot)
            })?;
        }
        spawn("rustgi-monitor", 0, move || monitor(shared))?;
        spawn("rustgi-acceptor", 0, move || {
            acceptor(shared, listener, wake_rx)
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

    write_status(shared);
    let drained = wait_for_stop(shared);
    write_status(shared);
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
            SIGTERM => shared.request_stop(StopCause::Shutdown("SIGTERM")),
            SIGINT => shared.request_stop(StopCause::Shutdown("SIGINT")),
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

fn acceptor(shared: &'static Shared, listener: UnixListener, wake: UnixStream) {
    let tick = Duration::from_secs(1);
    // Connections between requests: since when, and since when a request
    // waits on them (served first come, first served).
    let mut idle: Vec<(Conn, Instant, Option<Instant>)> = Vec::new();
    // Since when a new connection waits in the backlog.
    let mut listener_ready: Option<Instant> = None;
    loop {
        {
            let mut st = shared.state();
            idle.extend(st.returned.drain(..).map(|c| (c, Instant::now(), None)));
            while !shared.may_accept(&st) {
                if st.stop.is_some() {
                    // Closing them tells the Apache children to take their
                    // next requests elsewhere.
                    st.returned.clear();
                    return;
                }
                st = shared
                    .cond
                    .wait_timeout(st, tick)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
                idle.extend(st.returned.drain(..).map(|c| (c, Instant::now(), None)));
            }
        }
        idle.retain(|(_, since, ready)| ready.is_some() || since.elapsed() < IDLE_CONNECTION);
        if idle.len() > MAX_IDLE_CONNECTIONS {
            let excess = idle.len() - MAX_IDLE_CONNECTIONS;
            idle.drain(..excess);
        }
        // A connection whose next request is already buffered needs no poll.
        if let Some(i) = idle
            .iter()
            .position(|(c, _, _)| !c.reader.get_ref().buffer().is_empty())
        {
            let (conn, _, _) = idle.remove(i);
            hand_over(shared, conn);
            continue;
        }
        let mut fds = vec![listener.as_raw_fd(), wake.as_raw_fd()];
        fds.extend(
            idle.iter()
                .map(|(c, _, _)| c.reader.get_ref().get_ref().as_raw_fd()),
        );
        let ready = match sys::poll_readable_all(&fds, 1000) {
            Ok(ready) => ready,
            Err(e) => {
                log::error(&format!("poll on the listening socket failed: {e}"));
                std::thread::sleep(tick);
                continue;
            }
        };
        if ready[1] {
            let mut buf = [0; 64];
            while matches!((&wake).read(&mut buf), Ok(n) if n > 0) {}
        }
        let now = Instant::now();
        for (entry, &r) in idle.iter_mut().zip(&ready[2..]) {
            if r && entry.2.is_none() {
                entry.2 = Some(now);
            }
        }
        if ready[0] {
            listener_ready.get_or_insert(now);
        } else {
            listener_ready = None;
        }
        // A new connection that has waited a while goes first; then the kept
        // connections whose requests came, in the order they came, as many
        // as idle workers can take.
        let listener_first = listener_ready.is_some_and(|t| t.elapsed() > LISTENER_PRIORITY);
        if !listener_first {
            let mut waiting: Vec<usize> =
                (0..idle.len()).filter(|&i| idle[i].2.is_some()).collect();
            waiting.sort_by_key(|&i| idle[i].2);
            let room = shared.capacity(&shared.state());
            let mut taken: Vec<usize> = waiting.into_iter().take(room).collect();
            if !taken.is_empty() {
                taken.sort_unstable_by(|a, b| b.cmp(a));
                let conns: Vec<Conn> = taken.into_iter().map(|i| idle.remove(i).0).collect();
                for conn in conns.into_iter().rev() {
                    hand_over(shared, conn);
                }
                continue;
            }
        }
        if !ready[0] {
            continue;
        }
        listener_ready = None;
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::Interrupted
                        | io::ErrorKind::ConnectionAborted
                ) =>
            {
                continue;
            }
            Err(e) => {
                // EMFILE and the like: wait rather than spin.
                log::error(&format!("accept failed: {e}"));
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        // accept4 gives a blocking socket even from a non-blocking listener.
        let peer = match sys::peer_cred(&stream) {
            Ok(peer) => peer,
            Err(e) => {
                log::error(&format!("cannot get the credentials of a connection: {e}"));
                continue;
            }
        };
        if peer.uid != 0 && !shared.config.peer_uids.contains(&peer.uid) {
            log::error(&format!(
                "refused a connection from uid {} (pid {})",
                peer.uid, peer.pid
            ));
            continue;
        }
        hand_over(
            shared,
            Conn {
                reader: request::reader(stream),
                peer,
                reused: false,
            },
        );
    }
}

/// Gives a connection to an idle worker.
fn hand_over(shared: &'static Shared, conn: Conn) {
    shared.activity.touch();
    {
        let mut st = shared.state();
        st.idle -= 1;
        st.queue.push_back(conn);
    }
    shared.work.notify_one();
}

fn worker(shared: &'static Shared, slot: usize) {
    loop {
        let conn = {
            let mut st = shared.state();
            loop {
                if let Some(conn) = st.queue.pop_front() {
                    break conn;
                }
                st = shared.work.wait(st).unwrap_or_else(PoisonError::into_inner);
            }
        };
        let peer = conn.peer;
        let (counted, back) = panic::catch_unwind(AssertUnwindSafe(|| serve(shared, slot, conn)))
            .unwrap_or_else(|_| {
                log::error("a worker thread panicked while serving a request");
                (false, None)
            });
        *lock(&shared.running[slot]) = None;
        shared.activity.touch();
        let served = {
            let mut st = shared.state();
            st.idle += 1;
            if counted {
                st.served += 1;
            }
            // The connection may carry the child's next request, unless the
            // process is stopping (then closing it sends that request to
            // another process).
            if let Some(reader) = back.filter(|_| st.stop.is_none()) {
                st.returned.push(Conn {
                    reader,
                    peer,
                    reused: true,
                });
            }
            st.served
        };
        shared.cond.notify_all();
        let _ = (&shared.wake).write(&[1]);
        let max = shared.config.maximum_requests;
        if counted && max > 0 && served >= max {
            shared.request_stop(StopCause::Recycle(format!(
                "{served} requests served (maximum-requests)"
            )));
        }
    }
}

/// Sends a REJECT (after the preface, unless it went out with ACCEPTED);
/// errors only mean the child is gone.
fn reject(reader: &Reader, preface: bool, status: u16, retry_after: u32, reason: &str) {
    let mut frame = if preface {
        protocol::preface().to_vec()
    } else {
        Vec::new()
    };
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

    if config.queue_timeout > 0 {
        let waited_us = now_us().saturating_sub(head.queue_start_us);
        if waited_us > config.queue_timeout * 1_000_000 {
            let why = format!(
                "queue-timeout: request {uri} waited {:.1} s for a daemon thread, over the queue-timeout of {} s",
                waited_us as f64 / 1e6,
                config.queue_timeout
            );
            log::info(&why);
            reject(&reader, !reused, 503, 1, &why);
            return (false, None);
        }
    }
    if !shared.apps.is_allowed(&head.app_file) {
        let why = format!(
            "app {app} is not served by daemon process group {}",
            config.group
        );
        log::error(&format!("refused request {uri}: {why}"));
        reject(&reader, !reused, 500, 0, &why);
        return (false, None);
    }
    if shared.shutting_down() {
        reject(
            &reader,
            !reused,
            503,
            0,
            "the daemon process is shutting down",
        );
        return (false, None);
    }
    // The preface (on a new connection) and ACCEPTED, at once: a child that
    // sees its connection end before ACCEPTED knows the app never ran, and
    // may send the request again elsewhere.
    let mut accepted = if reused {
        Vec::new()
    } else {
        protocol::preface().to_vec()
    };
    protocol::encode_accepted(&mut accepted, shared.pid);
    if let Err(e) = reader.get_ref().get_ref().write_all(&accepted) {
        log::info(&format!("{who}: gone before ACCEPTED: {e}"));
        return (false, None);
    }
    let instance = match shared.apps.instance(&head.app_file, &head.init_config) {
        Ok(instance) => instance,
        Err(e) => {
            reject(
                &reader,
                false,
                500,
                0,
                &format!("app {app} could not be loaded: {e}"),
            );
            return (false, None);
        }
    };

    *lock(&shared.running[slot]) = Some(Running {
        since: Instant::now(),
        uri,
        reported: false,
    });
    let ctx = RequestCtx::new(Conversation::new(
        reader,
        &shared.activity,
        app,
        head.has_body,
    ));
    let environ = head.environ.abi_pairs();
    let request_config = head.config.abi_pairs();
    let request = RustgiRequest {
        struct_size: size_of::<RustgiRequest>() as u32,
        abi_version: abi::ABI_VERSION,
        environ: environ.as_ptr(),
        environ_len: environ.len(),
        config: request_config.as_ptr(),
        config_len: request_config.len(),
        api: &host_api::HOST_API,
        ctx: ctx.as_ctx(),
    };
    let rc = instance.handle(&request);
    *lock(&shared.running[slot]) = None;
    (true, ctx.into_inner().finish(rc))
}

/// The resident set size in bytes, from /proc/self/statm.
fn rss_bytes(page_size: u64) -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page_size)
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

/// Writes this process's status file, when the group has a status directory.
fn write_status(shared: &Shared) {
    let Some(dir) = &shared.config.status_dir else {
        return;
    };
    let (requests, in_flight, state, reason) = {
        let st = shared.state();
        let (state, reason) = match &st.stop {
            None => ("serving", None),
            Some(stop) if stop.hard => ("stopping", Some(stop.why.clone())),
            Some(stop) => ("recycling", Some(stop.why.clone())),
        };
        (st.served, shared.in_flight(&st), state, reason)
    };
    status::write(
        dir,
        &status::ProcessStatus {
            pid: shared.pid,
            user: shared.user.clone(),
            started_unix: shared.started_unix,
            threads: shared.config.threads,
            requests,
            in_flight,
            rss_bytes: rss_bytes(sys::page_size()).unwrap_or(0),
            state,
            reason,
        },
    );
}

/// Checks the recycle triggers every second.
fn monitor(shared: &'static Shared) {
    let config = &shared.config;
    let page_size = sys::page_size();
    loop {
        std::thread::sleep(Duration::from_secs(1));
        write_status(shared);
        if shared.stopping() {
            continue;
        }
        if config.request_timeout > 0 {
            let limit = Duration::from_secs(config.request_timeout);
            let mut late = None;
            for slot in &shared.running {
                let mut slot = lock(slot);
                if let Some(r) = slot
                    .as_mut()
                    .filter(|r| !r.reported && r.since.elapsed() > limit)
                {
                    r.reported = true;
                    late = Some((r.uri.clone(), r.since.elapsed()));
                }
            }
            if let Some((uri, elapsed)) = late {
                log::error(&format!(
                    "request-timeout: request {uri} has been running for {:.1} s, over the request-timeout of {} s; the process recycles and exits within {} s",
                    elapsed.as_secs_f64(),
                    config.request_timeout,
                    config.graceful_timeout
                ));
                shared.request_stop(StopCause::Recycle(format!(
                    "a request ran longer than {} s (request-timeout)",
                    config.request_timeout
                )));
                continue;
            }
        }
        let cause = if config.restart_interval > 0
            && shared.started.elapsed() >= Duration::from_secs(config.restart_interval)
        {
            Some(format!(
                "running for {} s (restart-interval)",
                config.restart_interval
            ))
        } else if config.inactivity_timeout > 0
            && shared.activity.idle_for() >= Duration::from_secs(config.inactivity_timeout)
        {
            Some(format!(
                "no activity for {} s (inactivity-timeout)",
                config.inactivity_timeout
            ))
        } else if let Some(rss) = (config.memory_limit > 0)
            .then(|| rss_bytes(page_size))
            .flatten()
            .filter(|&rss| rss > config.memory_limit)
        {
            Some(format!(
                "resident memory of {} over the limit of {} (memory-limit)",
                mib(rss),
                mib(config.memory_limit)
            ))
        } else if config.script_reloading {
            shared
                .apps
                .changed_file()
                .map(|file| format!("{} changed (script-reloading)", file.display()))
        } else {
            None
        };
        if let Some(cause) = cause {
            shared.request_stop(StopCause::Recycle(cause));
        }
    }
}
