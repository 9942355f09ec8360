//! Files sent without the daemon reading them: `wsgi.file_wrapper` and
//! app-sdk's `FileResponse` in a daemon group hand the open file to the
//! Apache child (a FILE frame carrying the descriptor), which sends it with
//! Apache's file bucket. The daemon's read counter proves it never read the
//! bytes; a peer that breaks the frame's rules gets a 502, and no Apache
//! child keeps a descriptor it was passed.

use crate::common;

use std::io::{BufReader, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::daemon::{apache_children, daemon_children, require_daemon, send_signal};
use common::http::{self, Request};
use common::{Artifact, TestServer};
use rustgi_contract::passed_fds::send_with_fd;
use rustgi_contract::protocol::{self, FileRange, FrameReader, Kind, Outcome, RequestHead};
use sha2::{Digest, Sha256};

const MIB: usize = 1 << 20;

/// `len` pseudo-random bytes (xorshift64*), so that a misplaced piece shows.
fn random_bytes(len: usize, mut x: u64) -> Vec<u8> {
    let mut out = vec![0u8; len];
    for word in out.chunks_mut(8) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let v = x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
        word.copy_from_slice(&v[..word.len()]);
    }
    out
}

fn sha256(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}

/// The bytes process `pid` has read through read(2), pread(2) and the like
/// (`rchar` of /proc/PID/io), whether from disk or from the page cache.
fn bytes_read_by(pid: u32) -> u64 {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).expect("/proc/PID/io");
    io.lines()
        .find_map(|l| l.strip_prefix("rchar: "))
        .and_then(|v| v.trim().parse().ok())
        .expect("rchar")
}

fn header_pid(resp: &http::Response) -> u32 {
    resp.header("X-Pid")
        .and_then(|p| p.parse().ok())
        .expect("X-Pid")
}

/// Downloads `target` twice (the first warms the process up) and returns
/// the body and how many bytes the serving process read meanwhile.
fn download_counting_reads(srv: &TestServer, target: &str) -> (Vec<u8>, u32, u64) {
    let warm = srv.get(target);
    assert_eq!(warm.status(), 200, "{}", srv.error_log());
    let pid = header_pid(&warm);
    let before = bytes_read_by(pid);
    let resp = srv.get(target);
    assert_eq!(resp.status(), 200, "{}", srv.error_log());
    assert_eq!(header_pid(&resp), pid, "the group has one process");
    let read = bytes_read_by(pid) - before;
    (resp.body, pid, read)
}

#[test]
fn a_100_mb_file_wrapper_download_passes_no_byte_through_the_daemon() {
    require_daemon();
    let data = random_bytes(100 * MIB, 0x5eed);
    let mut b = TestServer::builder().modules_copied();
    b.add_file("app/files.py", include_str!("../python/files.py"));
    b.add_file("app/big.bin", &data);
    let srv = b
        .config(
            "RustgiDaemonProcess files processes=1 threads=2 home=@ROOT@/app\n\
             RustgiProcessGroup files\n\
             RustgiScriptAlias /files @ROOT@/app/files.py\n\
             <Directory @ROOT@/app>\n    Require all granted\n</Directory>",
        )
        .start();
    let (body, pid, read) = download_counting_reads(&srv, "/files/big.bin");
    assert_eq!(body.len(), data.len());
    assert!(sha256(&body) == sha256(&data), "the download differs");
    // The request itself and Python's work read a few KiB; the file's
    // 100 MiB would be read through here if it passed the daemon.
    assert!(
        read < MIB as u64,
        "daemon {pid} read {read} bytes while sending a 100 MiB file"
    );
}

#[test]
fn file_responses_of_app_sdk_go_by_descriptor_with_ranges_and_head() {
    require_daemon();
    let data = random_bytes(20 * MIB, 0xf11e);
    let mut b = TestServer::builder().app(Artifact::Echo);
    let file = b.add_file("files/data.bin", &data);
    let srv = b
        .config(
            "RustgiDaemonProcess echo processes=1 threads=2 home=@ROOT@\n\
             RustgiScriptAlias /echo @APPS@/libecho.so process-group=echo",
        )
        .start();
    let target = format!(
        "/echo?file={}",
        http::percent_encode(&file.to_string_lossy())
    );
    let (body, pid, read) = download_counting_reads(&srv, &target);
    assert!(body == data, "the download differs");
    assert!(
        read < MIB as u64,
        "daemon {pid} read {read} bytes of a 20 MiB file"
    );

    // A range starts inside the file: the FILE frame's offset.
    let resp = srv.send(&Request::get(&target).header("Range", "bytes=1000-1999"));
    assert_eq!(resp.status(), 206, "{}", srv.error_log());
    assert!(resp.body == data[1000..2000], "the range differs");
    let resp = srv.send(&Request::get(&target).header("Range", "bytes=-10"));
    assert_eq!(resp.status(), 206);
    assert!(resp.body == data[data.len() - 10..]);

    let resp = srv.send(&Request::head(&target));
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.header("Content-Length"), Some("20971520"));
    assert!(resp.body.is_empty());
}

#[test]
fn embedded_file_wrapper_downloads_are_whole() {
    let data = random_bytes(30 * MIB, 0xe4bed);
    let mut b = TestServer::builder().modules_copied();
    b.add_file("app/files.py", include_str!("../python/files.py"));
    b.add_file("app/big.bin", &data);
    let srv = b
        .config(
            "RustgiProcessGroup %{GLOBAL}\n\
             RustgiScriptAlias /files @ROOT@/app/files.py\n\
             <Directory @ROOT@/app>\n    Require all granted\n</Directory>",
        )
        .start();
    for _ in 0..3 {
        let resp = srv.get("/files/big.bin");
        assert_eq!(resp.status(), 200, "{}", srv.error_log());
        assert!(sha256(&resp.body) == sha256(&data), "the download differs");
    }
}

// ------------------------------------------------------ a hostile daemon

/// What the impostor answers, by the request's PATH_INFO.
fn hostile_answer(path: &[u8], stream: &UnixStream, files: &Path) -> std::io::Result<bool> {
    let mut head = Vec::new();
    protocol::encode_accepted(&mut head, 4242);
    protocol::encode_head(&mut head, 200, [(&b"content-type"[..], &b"text/plain"[..])])
        .expect("HEAD");
    let small = std::fs::File::open(files.join("small.txt"))?;
    let end = |outcome| {
        let mut end = Vec::new();
        protocol::encode_end(&mut end, outcome);
        end
    };
    let mut w = stream;
    match path {
        b"/good" => {
            w.write_all(&head)?;
            send_with_fd(
                stream,
                &FileRange::new(2, 5).unwrap().encode(),
                small.as_fd(),
            )?;
            w.write_all(&end(Outcome::Ok))?;
            return Ok(true);
        }
        b"/file-without-descriptor" => {
            w.write_all(&head)?;
            w.write_all(&FileRange::new(0, 5).unwrap().encode())?;
        }
        b"/not-a-file" => {
            let (pipe, _other) = UnixStream::pair()?;
            w.write_all(&head)?;
            send_with_fd(
                stream,
                &FileRange::new(0, 5).unwrap().encode(),
                pipe.as_fd(),
            )?;
        }
        b"/past-the-end" => {
            w.write_all(&head)?;
            send_with_fd(
                stream,
                &FileRange::new(5, 100).unwrap().encode(),
                small.as_fd(),
            )?;
        }
        b"/before-head" => {
            let mut accepted = Vec::new();
            protocol::encode_accepted(&mut accepted, 4242);
            w.write_all(&accepted)?;
            send_with_fd(
                stream,
                &FileRange::new(0, 5).unwrap().encode(),
                small.as_fd(),
            )?;
        }
        b"/stray-descriptor" => {
            w.write_all(&head)?;
            let mut data = Vec::new();
            protocol::encode_frame(&mut data, Kind::Data, b"partial").unwrap();
            send_with_fd(stream, &data, small.as_fd())?;
        }
        b"/descriptor-flood" => {
            w.write_all(&head)?;
            for _ in 0..protocol_limit() + 2 {
                let mut log = Vec::new();
                protocol::encode_log(&mut log, 7, b"a descriptor rides along").unwrap();
                send_with_fd(stream, &log, small.as_fd())?;
            }
        }
        _ => {}
    }
    w.write_all(&end(Outcome::Ok))?;
    Ok(false)
}

fn protocol_limit() -> usize {
    rustgi_contract::passed_fds::MAX_PASSED
}

/// Serves one connection as a daemon would, with `hostile_answer`s.
fn impostor_connection(stream: UnixStream, files: PathBuf) {
    let mut reader = FrameReader::new(BufReader::new(stream.try_clone().unwrap()));
    if reader.read_preface().is_err() {
        return;
    }
    let mut first = true;
    loop {
        let Ok((kind, payload)) = reader.read_frame() else {
            return;
        };
        assert_eq!(kind, Kind::Request);
        let request = RequestHead::decode(payload).unwrap();
        let path = request
            .environ
            .get(b"PATH_INFO")
            .map(<[u8]>::to_vec)
            .unwrap_or_default();
        if first {
            (&stream).write_all(&protocol::preface()).unwrap();
            first = false;
        }
        match hostile_answer(&path, &stream, &files) {
            Ok(true) => continue,
            _ => return,
        }
    }
}

/// Descriptors of the Apache children that point into `dir`.
fn child_descriptors_into(parent: u32, dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for child in apache_children(parent) {
        let Ok(entries) = std::fs::read_dir(format!("/proc/{child}/fd")) else {
            continue;
        };
        for entry in entries.flatten() {
            if let Ok(target) = std::fs::read_link(entry.path())
                && target.starts_with(dir)
            {
                found.push(format!("pid {child}: {}", target.display()));
            }
        }
    }
    found
}

#[test]
fn hostile_file_frames_are_502s_and_leave_no_descriptor_behind() {
    require_daemon();
    let mut b = TestServer::builder().app(Artifact::Echo);
    let small = b.add_file("impostor/small.txt", "0123456789");
    let files = small.parent().unwrap().to_path_buf();
    let srv = b
        .log_level("debug")
        .config(
            "RustgiDaemonProcess g processes=1 threads=2 home=@ROOT@\n\
             RustgiScriptAlias /g @APPS@/libecho.so process-group=g",
        )
        .start();
    srv.wait_for_log(" ready, ", Duration::from_secs(15));
    // The group's real process is stopped (so it cannot see its socket go)
    // and an impostor takes the socket's place.
    let parent = srv.apache_pid();
    let daemons = daemon_children(parent);
    assert!(!daemons.is_empty());
    for &pid in &daemons {
        send_signal(pid, libc::SIGSTOP);
    }
    let socket = srv.root().join("rustgi/g.sock");
    std::fs::remove_file(&socket).unwrap();
    let listener = UnixListener::bind(&socket).unwrap();
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    let impostor_files = files.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let files = impostor_files.clone();
            std::thread::spawn(move || impostor_connection(stream, files));
        }
    });

    let good = srv.get("/g/good");
    assert_eq!(good.status(), 200, "{}", srv.error_log());
    assert_eq!(good.text(), "23456");

    let cases = [
        (
            "/file-without-descriptor",
            "a FILE frame came without its descriptor",
        ),
        ("/not-a-file", "is not a regular file"),
        ("/past-the-end", "passes the end of the 10-byte file"),
        ("/before-head", "FILE frame before HEAD"),
        ("/descriptor-flood", "descriptors no FILE frame claimed"),
    ];
    for round in 0..5 {
        for (path, why) in cases {
            let resp = srv.get(&format!("/g{path}"));
            assert_eq!(resp.status(), 502, "{path}: {}", resp.text());
            if round == 0 {
                srv.wait_for_log_line(
                    &["protocol error from group g", why],
                    Duration::from_secs(5),
                );
            }
        }
        // Body bytes had come: a 502 while none reached the client, a
        // response cut short after; never a complete-looking 200.
        match http::send(srv.addr(), &Request::get("/g/stray-descriptor")) {
            Ok(resp) if resp.status() != 502 => {
                panic!("a broken response looked complete: {}", resp.status())
            }
            _ => {}
        }
        if round == 0 {
            srv.wait_for_log(
                "a descriptor came without a FILE frame",
                Duration::from_secs(5),
            );
        }
        assert_eq!(srv.get("/g/good").text(), "23456");
    }
    // Every descriptor an Apache child was passed is closed with its request.
    let left =
        common::daemon::poll_until(Duration::from_secs(5), Duration::from_millis(50), || {
            let left = child_descriptors_into(parent, &files);
            left.is_empty().then_some(())
        });
    assert!(
        left.is_some(),
        "Apache children keep passed descriptors: {:?}",
        child_descriptors_into(parent, &files)
    );
    let log = srv.error_log();
    assert!(
        !log.contains("exit signal"),
        "an Apache child crashed:\n{log}"
    );
    for &pid in &daemons {
        send_signal(pid, libc::SIGCONT);
    }
}
