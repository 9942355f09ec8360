//! The file cases: one big file, written into the server root once per run,
//! downloaded through `wsgi.file_wrapper` (bench/file_wrapper.py) from a
//! daemon process, alone and by several clients at once, with every byte
//! checked.

use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Read, Write};
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use crate::cases::FileCase;
use crate::http::{self, Body};
use crate::procs;
use crate::stream::{CHUNK, block};

/// The file's name beside bench/file_wrapper.py.
pub const FILE_NAME: &str = "big.bin";

/// Writes `mib` MiB of [`block`] repeated to `path`, readable by everyone:
/// real data on disk (no holes), so that reading it costs what reading a
/// file costs.
pub fn write_file(path: &Path, mib: u64) -> Result<(), String> {
    let block = block();
    let file = File::create(path).map_err(|e| format!("create {}: {e}", path.display()))?;
    let mut w = BufWriter::with_capacity(CHUNK, file);
    for _ in 0..(mib << 20) / CHUNK as u64 {
        w.write_all(&block)
            .map_err(|e| format!("write {}: {e}", path.display()))?;
    }
    w.into_inner()
        .map_err(|e| format!("write {}: {e}", path.display()))?
        .sync_all()
        .map_err(|e| format!("sync {}: {e}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o644))
        .map_err(|e| format!("chmod {}: {e}", path.display()))
}

/// Waits until the case's group answers, at most `timeout`.
pub fn wait_ready(addr: SocketAddr, case: FileCase, timeout: Duration) -> Result<(), String> {
    if case.title().is_none() {
        // A static file: Apache serves it from the start.
        return Ok(());
    }
    let deadline = Instant::now() + timeout;
    let path = format!("{}?ready", case.path());
    loop {
        match http::get(addr, &path) {
            Ok((200, body)) if body == b"ready" => return Ok(()),
            _ if Instant::now() < deadline => thread::sleep(Duration::from_millis(100)),
            Ok((status, body)) => {
                return Err(format!(
                    "{} ({path}) answers {status}: {:?}",
                    case.id(),
                    String::from_utf8_lossy(&body[..body.len().min(300)])
                ));
            }
            Err(e) => return Err(format!("{} ({path}): {e}", case.id())),
        }
    }
}

/// One measure: `conns` downloads of the whole file at once.
#[derive(Clone, Debug)]
pub struct Download {
    pub case: FileCase,
    pub conns: u32,
    /// Bytes received, all downloads.
    pub bytes: u64,
    pub took: Duration,
    /// The RSS of the case's daemon process after the downloads.
    pub rss: u64,
    /// The CPU time the server (Apache's processes and the daemons) spent
    /// meanwhile, in seconds.
    pub server_cpu: f64,
}

impl Download {
    /// Decimal megabytes per second, all downloads together.
    pub fn mb_per_sec(&self) -> f64 {
        self.bytes as f64 / self.took.as_secs_f64().max(1e-9) / 1e6
    }

    /// Decimal megabytes per second of the server's CPU time: how fast the
    /// server sends the file for the CPU it spends, whoever else (the
    /// client, on the same cores) is slower.
    pub fn mb_per_cpu_sec(&self) -> f64 {
        self.bytes as f64 / self.server_cpu.max(1e-3) / 1e6
    }
}

/// Downloads the file once and checks every byte against [`block`]; the
/// bytes received.
fn download_once(addr: SocketAddr, path: &str, want: u64) -> Result<u64, String> {
    let block = block();
    let mut s = http::connect(addr).map_err(|e| format!("connect: {e}"))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("{path}: {e}"))?;
    let mut r = BufReader::with_capacity(CHUNK, s);
    let head = http::read_head(&mut r).map_err(|e| format!("{path}: {e}"))?;
    if head.status != 200 {
        return Err(format!("{path} answered {}", head.status));
    }
    let mut body = Body::new(r, &head);
    let mut buf = vec![0u8; CHUNK];
    let mut got = 0u64;
    loop {
        let n = body
            .read(&mut buf)
            .map_err(|e| format!("{path}, at {got} bytes: {e}"))?;
        if n == 0 {
            break;
        }
        // The file is `block` repeated: compare with it where this piece
        // falls, in at most two runs (at the block's end it wraps).
        let mut done = 0;
        while done < n {
            let at = ((got + done as u64) % CHUNK as u64) as usize;
            let len = (CHUNK - at).min(n - done);
            if buf[done..done + len] != block[at..at + len] {
                return Err(format!("{path}: wrong bytes near {}", got + done as u64));
            }
            done += len;
        }
        got += n as u64;
    }
    if got != want {
        return Err(format!("{path}: got {got} bytes of {want}"));
    }
    Ok(got)
}

/// `conns` downloads of the `mib` MiB file from `case` at once, timed from
/// the first request to the last byte.
pub fn download(
    addr: SocketAddr,
    apache: u32,
    case: FileCase,
    mib: u64,
    conns: u32,
) -> Result<Download, String> {
    let want = mib << 20;
    let cpu_before = procs::tree_cpu_seconds(apache);
    let started = Instant::now();
    let clients: Vec<_> = (0..conns)
        .map(|_| thread::spawn(move || download_once(addr, case.path(), want)))
        .collect();
    let mut bytes = 0;
    for c in clients {
        bytes += c
            .join()
            .map_err(|_| "a download thread panicked".to_owned())??;
    }
    let took = started.elapsed();
    let server_cpu = procs::tree_cpu_seconds(apache) - cpu_before;
    let rss = case.title().map_or(0, |title| {
        procs::total_rss(&procs::titled_children(apache, title))
    });
    Ok(Download {
        case,
        conns,
        bytes,
        took,
        rss,
        server_cpu,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_is_the_block_repeated() {
        let dir = std::env::temp_dir().join(format!("rustgi-bench-file-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join(FILE_NAME);
        write_file(&path, 1).unwrap();
        let data = fs::read(&path).unwrap();
        let _ = fs::remove_dir_all(&dir);
        assert_eq!(data.len(), 1 << 20);
        assert!(data.chunks(CHUNK).all(|c| c == block().as_slice()));
    }

    #[test]
    fn throughput() {
        let d = Download {
            case: FileCase::Python,
            conns: 2,
            bytes: 3_000_000,
            took: Duration::from_secs(3),
            rss: 0,
            server_cpu: 0.5,
        };
        assert!((d.mb_per_sec() - 1.0).abs() < 1e-9);
        assert!((d.mb_per_cpu_sec() - 6.0).abs() < 1e-9);
    }
}
