//! How long an Apache child waits for a daemon process's next frame, by how
//! far its request got.

use std::time::Duration;

/// Where a request sent to a daemon group stands, for the meaning of a
/// timeout or of the connection ending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Sent, no frame yet: waiting for a daemon thread to take it. (A taken
    /// request's ACCEPTED comes with its first frame, or alone once its app
    /// has been silent for a moment.)
    Queued,
    /// Taken (ACCEPTED came), no response yet.
    Running,
    /// The response head came.
    Responding,
}

/// How late a silent app's ACCEPTED may come after a thread took its
/// request: the daemon's monitor sends it within 0.5 s; the rest is slack
/// for a busy machine.
pub const ACCEPTED_LAG: Duration = Duration::from_millis(1500);

/// A group's timeouts, as `RustgiDaemonProcess` sets them (0: off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub queue: Duration,
    pub request: Duration,
    pub socket: Duration,
}

impl Timeouts {
    /// How long one read may wait in `phase`.
    ///
    /// The daemon enforces queue-timeout (it refuses what waited too long
    /// when it gets to it) and request-timeout (it recycles); the child
    /// waits a bit longer, for when no process gets to do so. A limit that
    /// is off leaves socket-timeout, as for a response under way.
    pub fn read_wait(&self, phase: Phase) -> Duration {
        let (limit, slack) = match phase {
            Phase::Queued => (self.queue, ACCEPTED_LAG),
            Phase::Running => (self.request, Duration::from_secs(1)),
            Phase::Responding => return self.socket,
        };
        if limit.is_zero() {
            self.socket
        } else {
            limit + slack
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timeouts(queue: u64, request: u64) -> Timeouts {
        Timeouts {
            queue: Duration::from_secs(queue),
            request: Duration::from_secs(request),
            socket: Duration::from_secs(60),
        }
    }

    #[test]
    fn each_phase_waits_a_little_longer_than_the_daemon() {
        let t = timeouts(45, 30);
        assert_eq!(t.read_wait(Phase::Queued), Duration::from_millis(46_500));
        assert_eq!(t.read_wait(Phase::Running), Duration::from_secs(31));
        assert_eq!(t.read_wait(Phase::Responding), Duration::from_secs(60));
    }

    #[test]
    fn a_timeout_that_is_off_leaves_socket_timeout() {
        let t = timeouts(0, 0);
        for phase in [Phase::Queued, Phase::Running, Phase::Responding] {
            assert_eq!(t.read_wait(phase), Duration::from_secs(60), "{phase:?}");
        }
    }
}
