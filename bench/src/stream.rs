//! The streaming cases: a big upload to `/big/upload` and a big download
//! from `/big/stream?mb=N` through a daemon group running tests/apps/faults,
//! timed, with the peak memory of the daemon and of the Apache child that
//! served the connection.

use std::collections::BTreeMap;
use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::http::{self, Body};
use crate::procs;

/// The size of the client's writes and reads.
pub const CHUNK: usize = 256 * 1024;
/// The URL prefix of the streaming group.
const PREFIX: &str = "/big";

/// Up or down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Direction {
    Up,
    Down,
}

impl Direction {
    pub fn label(self) -> &'static str {
        match self {
            Direction::Up => "upload (PUT /upload)",
            Direction::Down => "download (GET /stream)",
        }
    }
}

/// A process's memory around a transfer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mem {
    pub pid: u32,
    /// RSS when the transfer started (its peak was reset to it then).
    pub before: u64,
    /// The peak RSS during the transfer.
    pub peak: u64,
}

impl Mem {
    pub fn growth(&self) -> u64 {
        self.peak.saturating_sub(self.before)
    }
}

/// One transfer.
#[derive(Clone, Debug)]
pub struct Transfer {
    pub direction: Direction,
    pub bytes: u64,
    pub took: Duration,
    pub daemon: Mem,
    /// The Apache child that held the connection (or, when it could not be
    /// told, the one that grew most).
    pub child: Mem,
    /// Whether `child` was found by its socket (else: by its growth).
    pub child_by_socket: bool,
}

impl Transfer {
    /// Decimal gigabytes per second.
    pub fn gb_per_sec(&self) -> f64 {
        self.bytes as f64 / self.took.as_secs_f64().max(1e-9) / 1e9
    }
}

/// The pid of the daemon process of the streaming group.
pub fn daemon_pid(addr: SocketAddr) -> Result<u32, String> {
    let (status, body) = http::get(addr, &format!("{PREFIX}/pid")).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&body);
    if status != 200 {
        return Err(format!("{PREFIX}/pid answered {status}: {text}"));
    }
    json_field(&text, "pid")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("{PREFIX}/pid: no pid in {text}"))
}

/// The raw value of `"name":` in a flat JSON object (a number, or a string
/// without its quotes).
fn json_field<'a>(json: &'a str, name: &str) -> Option<&'a str> {
    let key = format!("\"{name}\"");
    let rest = json[json.find(&key)? + key.len()..].trim_start();
    let rest = rest.strip_prefix(':')?.trim_start();
    if let Some(s) = rest.strip_prefix('"') {
        return Some(&s[..s.find('"')?]);
    }
    let end = rest
        .find(|c: char| c == ',' || c == '}' || c.is_whitespace())
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

/// The upload's contents: a pseudo-random block, repeated.
pub fn block() -> Vec<u8> {
    let mut x = 0x1234_5678_9abc_def1u64;
    let mut buf = vec![0u8; CHUNK];
    for word in buf.chunks_mut(8) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let v = x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
        word.copy_from_slice(&v[..word.len()]);
    }
    buf
}

/// The peaks of every Apache child and of the daemon are reset; their RSS
/// now.
struct Watch {
    parent: u32,
    daemon: Mem,
    children: BTreeMap<u32, u64>,
}

impl Watch {
    fn start(parent: u32, daemon: u32) -> Watch {
        let children: BTreeMap<u32, u64> = procs::apache_children(parent)
            .into_iter()
            .filter_map(|p| {
                procs::reset_peak(p);
                Some((p, procs::rss(p)?))
            })
            .collect();
        procs::reset_peak(daemon);
        Watch {
            parent,
            daemon: Mem {
                pid: daemon,
                before: procs::rss(daemon).unwrap_or(0),
                peak: 0,
            },
            children,
        }
    }

    /// Which child holds the server side of `conn` (a connection to `server`).
    fn serving_child(&self, conn: &TcpStream, server: SocketAddr) -> Option<u32> {
        let local = conn.local_addr().ok()?;
        let pids: Vec<u32> = self.children.keys().copied().collect();
        // The listener may take a moment to accept.
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            if let Some(p) = procs::server_side_of(local, server, &pids) {
                return Some(p);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn finish(
        &self,
        direction: Direction,
        bytes: u64,
        took: Duration,
        served_by: Option<u32>,
    ) -> Result<Transfer, String> {
        let mut daemon = self.daemon;
        daemon.peak = procs::peak_rss(daemon.pid).ok_or_else(|| {
            format!(
                "the streaming daemon {} is gone (Apache {})",
                daemon.pid, self.parent
            )
        })?;
        let mems: Vec<Mem> = self
            .children
            .iter()
            .filter_map(|(&pid, &before)| {
                Some(Mem {
                    pid,
                    before,
                    peak: procs::peak_rss(pid)?,
                })
            })
            .collect();
        let by_socket = served_by.and_then(|p| mems.iter().find(|m| m.pid == p).copied());
        let child = by_socket
            .or_else(|| mems.iter().max_by_key(|m| m.growth()).copied())
            .unwrap_or_default();
        Ok(Transfer {
            direction,
            bytes,
            took,
            daemon,
            child,
            child_by_socket: by_socket.is_some(),
        })
    }
}

/// Sends `bytes` (a multiple of 256 KiB) to `/big/upload` and checks that
/// the app saw them all: length and CRC-32 (a check that costs the app far
/// less than the transfer; SHA-256 alone runs at about 1 GB/s on one core).
pub fn upload(addr: SocketAddr, parent: u32, daemon: u32, bytes: u64) -> Result<Transfer, String> {
    let block = block();
    let chunks = bytes.div_ceil(CHUNK as u64);
    let bytes = chunks * CHUNK as u64;
    let watch = Watch::start(parent, daemon);
    let mut s = http::connect(addr).map_err(|e| format!("connect: {e}"))?;
    let head = format!(
        "PUT {PREFIX}/upload?sum=crc32 HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: {bytes}\r\n\r\n"
    );
    let started = Instant::now();
    s.write_all(head.as_bytes())
        .map_err(|e| format!("upload head: {e}"))?;
    // Apache accepts the connection once data arrived (TCP_DEFER_ACCEPT):
    // the head is there, the app waits for the body.
    let served_by = watch.serving_child(&s, addr);
    for i in 0..chunks {
        s.write_all(&block)
            .map_err(|e| format!("upload, at {} bytes: {e}", i * CHUNK as u64))?;
    }
    let mut r = BufReader::new(s);
    let head = http::read_head(&mut r).map_err(|e| format!("upload answer: {e}"))?;
    let mut answer = String::new();
    Body::new(r, &head)
        .read_to_string(&mut answer)
        .map_err(|e| format!("upload answer: {e}"))?;
    let took = started.elapsed();
    if head.status != 200 {
        return Err(format!("upload answered {}: {answer}", head.status));
    }
    // Checked after the clock stopped.
    let mut hasher = crc32fast::Hasher::new();
    for _ in 0..chunks {
        hasher.update(&block);
    }
    let want = format!("{:08x}", hasher.finalize());
    let len = json_field(&answer, "len").and_then(|v| v.parse::<u64>().ok());
    if len != Some(bytes) || json_field(&answer, "crc32") != Some(want.as_str()) {
        return Err(format!(
            "the app did not get the upload whole: sent {bytes} bytes with CRC-32 {want}, it says {answer}"
        ));
    }
    watch.finish(Direction::Up, bytes, took, served_by)
}

/// Reads `mib` MiB from `/big/stream` and checks them (all `x`).
pub fn download(addr: SocketAddr, parent: u32, daemon: u32, mib: u64) -> Result<Transfer, String> {
    let watch = Watch::start(parent, daemon);
    let want = mib << 20;
    let started = Instant::now();
    let mut s = http::connect(addr).map_err(|e| format!("connect: {e}"))?;
    write!(
        s,
        "GET {PREFIX}/stream?mb={mib} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("download request: {e}"))?;
    let served_by = watch.serving_child(&s, addr);
    let mut r = BufReader::with_capacity(CHUNK, s);
    let head = http::read_head(&mut r).map_err(|e| format!("download head: {e}"))?;
    if head.status != 200 {
        return Err(format!("download answered {}", head.status));
    }
    let mut body = Body::new(r, &head);
    let mut buf = vec![0u8; CHUNK];
    let mut got = 0u64;
    loop {
        let n = body
            .read(&mut buf)
            .map_err(|e| format!("download, at {got} bytes: {e}"))?;
        if n == 0 {
            break;
        }
        // A check the compiler vectorises: any byte other than `x` sets bits.
        let stray = buf[..n].iter().fold(0u8, |acc, b| acc | (b ^ b'x'));
        if stray != 0 {
            return Err(format!("download: a byte other than `x` near {got}"));
        }
        got += n as u64;
    }
    let took = started.elapsed();
    if got != want {
        return Err(format!("download: got {got} bytes of {want}"));
    }
    watch.finish(Direction::Down, got, took, served_by)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_fields() {
        let j = r#"{"len":1073741824,"sha256":"ab12","pid": 42}"#;
        assert_eq!(json_field(j, "len"), Some("1073741824"));
        assert_eq!(json_field(j, "sha256"), Some("ab12"));
        assert_eq!(json_field(j, "pid"), Some("42"));
        assert_eq!(json_field(j, "nope"), None);
    }

    #[test]
    fn throughput() {
        let t = Transfer {
            direction: Direction::Up,
            bytes: 2_000_000_000,
            took: Duration::from_secs(2),
            daemon: Mem::default(),
            child: Mem {
                pid: 1,
                before: 10,
                peak: 4,
            },
            child_by_socket: true,
        };
        assert!((t.gb_per_sec() - 1.0).abs() < 1e-9);
        assert_eq!(t.child.growth(), 0);
        assert_eq!(block().len(), CHUNK);
    }
}
