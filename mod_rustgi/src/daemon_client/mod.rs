//! The Apache child's side of a request served by a daemon group: connect to
//! the group's socket, send the request, answer the daemon's READs from the
//! client's body, and pass the response to the client as it comes.
//!
//! The body only goes to the daemon when the app asks for it, so an app that
//! answers before it reads the body cannot deadlock either side, and neither
//! side holds more than one frame of it.

use std::ffi::c_int;
use std::io::{self, IoSlice, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use rustgi_contract::pairs::Pairs;
use rustgi_contract::passed_fds;
use rustgi_contract::protocol::{self, Frame, Kind};
use rustgi_host::exchange::Exchange;

use crate::availability;
use crate::child_response::{ChildResponse, HANDLED, fail, finish};
use crate::daemon_link::{
    Connection, POOL, RequestFrame, connect, never_read, timed_out, write_all_slices,
};
use crate::daemon_wait::{Phase, Timeouts};

const BAD_REQUEST: c_int = 400;
const BAD_GATEWAY: c_int = 502;
const SERVICE_UNAVAILABLE: c_int = 503;
const GATEWAY_TIME_OUT: c_int = 504;
const REQUEST_HEADER_FIELDS_TOO_LARGE: c_int = 431;

/// Where a group is, as a child reaches it.
pub struct GroupRoute<'a> {
    pub name: &'a str,
    pub socket: &'a Path,
    pub connect_timeout: Duration,
    /// queue-timeout, request-timeout and socket-timeout.
    pub timeouts: Timeouts,
    /// The parent's file about the group (processes, restarts).
    pub group_file: &'a Path,
    /// Where the group's processes write their status files.
    pub status_dir: &'a Path,
}

/// The Retry-After of a group that cannot start: the supervisor tries
/// again at most every 10 s.
const FAILING_RETRY_AFTER: u32 = 10;

/// What the handler needs to send a request to a group.
pub struct Outgoing<'a> {
    pub app_file: &'a Path,
    pub init_config: &'a Pairs,
    pub environ: &'a Pairs,
    pub config: &'a Pairs,
}

/// Serves a request through `group`, answering through `state`; returns the
/// handler's status.
pub fn serve<R: ChildResponse>(
    state: &mut Exchange<R>,
    group: &GroupRoute<'_>,
    request: Outgoing<'_>,
) -> c_int {
    let name = group.name;
    state.transport_mut().set_label(format!("group {name}"));
    if let Some(why) = availability::unavailable(name, group.group_file, group.status_dir) {
        state.transport_mut().set_retry_after(FAILING_RETRY_AFTER);
        return fail(
            state,
            SERVICE_UNAVAILABLE,
            &format!("the group cannot start its processes: {why}"),
        );
    }
    let queue_start_us = state.transport().request_time_us();
    let mut frame = RequestFrame::take();
    let frame = &mut frame.0;
    let encoded = protocol::encode_request(
        frame,
        queue_start_us,
        state.transport().has_body(),
        request.app_file.as_os_str().as_encoded_bytes(),
        request.init_config,
        request.environ,
        request.config,
    );
    if let Err(e) = encoded {
        // Only the protocol's limits make encoding fail: the head is too big.
        return fail(
            state,
            REQUEST_HEADER_FIELDS_TOO_LARGE,
            &format!("the request cannot be sent: {e}"),
        );
    }
    // A kept connection its process closed just as the request went out:
    // the request was not taken, send it again on a new connection.
    let mut pooled = true;
    let mut last_error =
        String::from("the daemon closed the connection before reading the request");
    for attempt in 0..3 {
        let kept = if pooled {
            POOL.take(group.socket)
        } else {
            None
        };
        let (mut connection, fresh) = match kept {
            Some(connection) => (connection, false),
            None => match connect(group.socket, group.connect_timeout).and_then(|stream| {
                stream.set_write_timeout(Some(group.timeouts.socket))?;
                Connection::new(stream, group.timeouts.socket)
            }) {
                Ok(connection) => (connection, true),
                Err(e) => {
                    return fail(
                        state,
                        SERVICE_UNAVAILABLE,
                        &format!("cannot connect to {}: {e}", group.socket.display()),
                    );
                }
            },
        };
        let sent = if fresh {
            let preface = protocol::preface();
            write_all_slices(
                &mut connection.writer,
                &mut [IoSlice::new(&preface), IoSlice::new(frame)],
            )
        } else {
            connection.writer.write_all(frame)
        };
        if let Err(e) = sent {
            // Not delivered: try a new connection while attempts remain.
            last_error = format!("cannot send the request to {}: {e}", group.socket.display());
            pooled = false;
            continue;
        }
        match exchange(state, &mut connection, group, fresh, attempt > 0) {
            Exchanged::Retry => {
                last_error = "the daemon closed the connection before reading the request".into();
                pooled = false;
                continue;
            }
            Exchanged::Done { status, reusable } => {
                if reusable && connection.is_clean() {
                    POOL.put(group.socket, connection);
                }
                return status;
            }
        }
    }
    // Three connections in a row ended before a process took the request
    // (processes crashing or stopping at once): no process could be reached.
    fail(state, SERVICE_UNAVAILABLE, &last_error)
}

/// How an exchange ended.
enum Exchanged {
    /// The connection was closed with the request unread (a process
    /// stopping, recycling or dying with it queued): it never ran, send it
    /// again.
    Retry,
    /// The request is over; `reusable` when the daemon ended it with END.
    Done { status: c_int, reusable: bool },
}

fn done(status: c_int) -> Exchanged {
    Exchanged::Done {
        status,
        reusable: false,
    }
}

/// Reads the daemon's frames until the request ends.
fn exchange<R: ChildResponse>(
    state: &mut Exchange<R>,
    connection: &mut Connection,
    group: &GroupRoute<'_>,
    fresh: bool,
    retried: bool,
) -> Exchanged {
    let name = group.name;
    let mut phase = Phase::Queued;
    // The process of a kept connection is known already; a new
    // connection's comes with ACCEPTED. A request sent again must not keep
    // the pid of the connection it was sent on before.
    let mut pid = connection.pid;
    if pid != 0 {
        state
            .transport_mut()
            .set_label(format!("group {name}, pid {pid}"));
    } else if retried {
        state.transport_mut().set_label(format!("group {name}"));
    }
    let mut body = Vec::new();
    let mut preface_read = !fresh;
    loop {
        connection.set_wait(group.timeouts.read_wait(phase));
        let reader = &mut connection.reader;
        if !preface_read {
            if let Err(e) = reader.read_preface() {
                if never_read(&e) {
                    return Exchanged::Retry;
                }
                return done(broken(state, phase, pid, group, &e));
            }
            preface_read = true;
        }
        let decoded = reader.read_frame().and_then(|(kind, payload)| {
            Frame::decode(kind, payload).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
        });
        let decoded = match decoded {
            Ok(frame) => frame,
            Err(e) if phase == Phase::Queued && never_read(&e) => return Exchanged::Retry,
            Err(e)
                if protocol::protocol_error(&e).is_some()
                    || e.kind() == io::ErrorKind::InvalidData =>
            {
                return done(protocol_error(state, pid, group, &e.to_string()));
            }
            Err(e) => return done(broken(state, phase, pid, group, &e)),
        };
        // The daemon's first frame is ACCEPTED, or REJECT for a request it
        // will not run.
        if phase == Phase::Queued && !matches!(decoded, Frame::Accepted(_) | Frame::Reject(_)) {
            return done(protocol_error(
                state,
                pid,
                group,
                &format!("{:?} frame before ACCEPTED", decoded.kind()),
            ));
        }
        match decoded {
            Frame::Accepted(process) => {
                if process != pid {
                    pid = process;
                    connection.pid = process;
                    state
                        .transport_mut()
                        .set_label(format!("group {name}, pid {pid}"));
                }
                phase = Phase::Running;
            }
            // READ waits for the client's first bytes; READ_NOW takes only
            // what has come.
            Frame::Read(want) | Frame::ReadNow(want) => {
                let wait = matches!(decoded, Frame::Read(_));
                let want = (want as usize).clamp(1, protocol::MAX_DATA_PAYLOAD as usize);
                let gathered = state.transport_mut().gather_body(want, wait);
                if let Err(e) = answer_read(state, &mut connection.writer, &mut body, gathered) {
                    return done(broken(state, phase, pid, group, &e));
                }
            }
            Frame::Head(head) => {
                if state.start_response(head.status, head.headers.iter()) != 0 {
                    // Refused (logged): the response is a 500; stop listening.
                    return done(finish(state, rustgi_abi::ERROR));
                }
                phase = Phase::Responding;
            }
            Frame::Data(bytes) => {
                if state.write(bytes) != 0 {
                    return done(finish(state, rustgi_abi::ERROR));
                }
            }
            Frame::Flush => {
                if state.flush() != 0 {
                    return done(finish(state, rustgi_abi::ERROR));
                }
            }
            // The file's bytes go from the daemon's descriptor to the
            // client by Apache's file bucket; the daemon never reads them.
            Frame::File(range) => {
                let Some(file) = connection.take_passed() else {
                    return done(protocol_error(
                        state,
                        pid,
                        group,
                        "a FILE frame came without its descriptor",
                    ));
                };
                if phase != Phase::Responding {
                    return done(protocol_error(state, pid, group, "FILE frame before HEAD"));
                }
                let checked = passed_fds::checked_range(file.as_fd(), range.offset, range.length);
                if let Err(why) = checked {
                    return done(protocol_error(
                        state,
                        pid,
                        group,
                        &format!("FILE frame with an unusable file: {why}"),
                    ));
                }
                if state.send_file(Some(file.as_fd()), range.offset, range.length) != 0 {
                    return done(finish(state, rustgi_abi::ERROR));
                }
            }
            Frame::Log(line) => state.transport_mut().log(
                i32::from(line.level),
                &format!(
                    "group {name}, pid {pid}: {}",
                    String::from_utf8_lossy(&line.message)
                ),
            ),
            Frame::End(outcome) => {
                if connection.incoming().has_passed() {
                    return done(protocol_error(
                        state,
                        pid,
                        group,
                        "a descriptor came without a FILE frame",
                    ));
                }
                let rc = if outcome == protocol::Outcome::Ok {
                    rustgi_abi::OK
                } else {
                    rustgi_abi::ERROR
                };
                let status = finish(state, rc);
                return Exchanged::Done {
                    status,
                    reusable: !state.transport().client_gone(),
                };
            }
            Frame::Reject(reject) => {
                if reject.retry_after_seconds > 0 {
                    state
                        .transport_mut()
                        .set_retry_after(reject.retry_after_seconds);
                }
                let reason = String::from_utf8_lossy(&reject.reason).into_owned();
                return done(fail(
                    state,
                    c_int::from(reject.status),
                    &format!("request refused: {reason}"),
                ));
            }
            other => {
                return done(protocol_error(
                    state,
                    pid,
                    group,
                    &format!("unexpected {:?} frame", other.kind()),
                ));
            }
        }
    }
}

/// Sends the answer to a READ or READ_NOW that gathered `gathered` bytes
/// (see [`ChildResponse::gather_body`]): body bytes go out from Apache's own
/// buffers in one vectored write (`spill` holds them only when they are in
/// too many pieces).
fn answer_read<R: ChildResponse>(
    state: &mut Exchange<R>,
    writer: &mut UnixStream,
    spill: &mut Vec<u8>,
    gathered: Option<isize>,
) -> io::Result<()> {
    let mut frame = Vec::new();
    let encoded = match gathered.map(usize::try_from) {
        Some(Ok(n)) if n > 0 => {
            let header = protocol::frame_header(Kind::Body, n as u32);
            return state.transport_mut().send_gathered(spill, |pieces| {
                let sent: usize = pieces.iter().map(|p| p.len()).sum();
                if sent != n {
                    return Err(io::Error::other(format!(
                        "gathered {n} body bytes, found {sent}"
                    )));
                }
                let mut slices = Vec::with_capacity(pieces.len() + 1);
                slices.push(IoSlice::new(&header));
                slices.extend_from_slice(pieces);
                write_all_slices(writer, &mut slices)
            });
        }
        Some(Ok(_)) => protocol::encode_frame(&mut frame, Kind::BodyEnd, &[]),
        None => protocol::encode_frame(&mut frame, Kind::BodyLater, &[]),
        Some(Err(_)) => {
            let status = state.transport().body_error().unwrap_or(BAD_REQUEST);
            protocol::encode_body_error(&mut frame, u16::try_from(status).unwrap_or(400))
        }
    };
    encoded.map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    writer.write_all(&frame)
}

fn protocol_error<R: ChildResponse>(
    state: &mut Exchange<R>,
    pid: u32,
    group: &GroupRoute<'_>,
    what: &str,
) -> c_int {
    fail(
        state,
        BAD_GATEWAY,
        &format!(
            "protocol error from group {} (pid {pid}): {what}",
            group.name
        ),
    )
}

/// The daemon's socket failed or timed out: what that means depends on how
/// far the request got.
fn broken<R: ChildResponse>(
    state: &mut Exchange<R>,
    phase: Phase,
    pid: u32,
    group: &GroupRoute<'_>,
    e: &io::Error,
) -> c_int {
    if state.transport().client_gone() {
        return HANDLED;
    }
    let timed_out = timed_out(e);
    // Reads that stop short say "failed to fill whole buffer".
    let e: &dyn std::fmt::Display = if e.kind() == io::ErrorKind::UnexpectedEof {
        &"end of stream"
    } else {
        e
    };
    match (phase, timed_out) {
        (Phase::Queued, true) => {
            state.transport_mut().set_retry_after(1);
            fail(
                state,
                SERVICE_UNAVAILABLE,
                &format!(
                    "no process took the request within queue-timeout ({} s)",
                    group.timeouts.queue.as_secs()
                ),
            )
        }
        (Phase::Running, true) => fail(
            state,
            GATEWAY_TIME_OUT,
            &format!(
                "no response within request-timeout ({} s)",
                group.timeouts.request.as_secs()
            ),
        ),
        (Phase::Responding, true) => fail(
            state,
            GATEWAY_TIME_OUT,
            &format!(
                "the response stalled for socket-timeout ({} s) and was cut short",
                group.timeouts.socket.as_secs()
            ),
        ),
        (Phase::Queued, false) => {
            // The process that took the request died before its first
            // frame named it: the parent's record of the death does.
            let started = state.transport().request_time_us() / 1_000_000;
            let which = match availability::death_since(
                group.group_file,
                group.name,
                started,
                Duration::from_millis(500),
            ) {
                Some(death) => format!(
                    "process {} read the request and ended: {}",
                    death.pid, death.reason
                ),
                None => "a process of the group read the request and may have died running it; \
                         see its exit or the group's log"
                    .to_owned(),
            };
            fail(
                state,
                BAD_GATEWAY,
                &format!("the connection ended before any answer ({e}): {which}"),
            )
        }
        (_, false) => fail(
            state,
            BAD_GATEWAY,
            &format!(
                "process {pid} closed the connection before the response ended ({e}); it may have died, see its exit"
            ),
        ),
    }
}

#[cfg(test)]
mod tests;
