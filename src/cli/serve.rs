//! `rustgi serve`: write the server root, run Apache in the foreground with
//! its logs on the terminal, and stop it, and everything it started, on
//! Ctrl-C.
//!
//! `rustgi` stays Apache's parent. Apache runs in a process group of its own
//! (its daemons and children are in it too), so that the terminal's Ctrl-C
//! reaches `rustgi` alone, which then stops Apache in order: SIGTERM to
//! Apache's parent, which stops its children and daemon processes. A second
//! Ctrl-C kills the whole process group at once. When Apache has exited,
//! whatever is left of its group is stopped too. Apache also gets SIGTERM
//! if `rustgi` itself dies (`PR_SET_PDEATHSIG`). Apache's logs
//! (`ErrorLog /dev/stderr`, `CustomLog /dev/stdout`) go to pipes that
//! `rustgi` copies to its own stderr and stdout.
//!
//! Signals forwarded: SIGINT, SIGTERM, SIGHUP and SIGQUIT stop Apache;
//! SIGUSR1 restarts it gracefully (`apachectl graceful`).
//!
//! With `--reload-on-changes`, a thread watches what the app comes from:
//!
//! * a crate's sources (every file but `target/` and hidden ones): on a
//!   change it runs `cargo build --release` again and, when the build
//!   succeeds, replaces the served copy of the library;
//! * a library that is served as a copy: it copies it again when it
//!   changes.
//!
//! In daemon mode the module's `RustgiScriptReloading On` then restarts the
//! daemon processes gracefully; with `--embedded`, `rustgi` restarts Apache
//! gracefully (SIGUSR1) so that new children load the new library.

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1};
use signal_hook::iterator::Signals;

use super::cargo;
use super::site::{AppSource, Site, SiteOptions, install_copy};
use crate::apache::apache_binary;

/// How often the watcher looks for changes.
const WATCH_INTERVAL: Duration = Duration::from_millis(500);

/// How long Apache's daemon processes may take to exit after Apache's
/// parent did (their `shutdown-timeout` is 5 s by default).
const GROUP_GRACE: Duration = Duration::from_secs(6);

/// How long what is left of Apache's process group gets after SIGTERM.
const SWEEP_TIMEOUT: Duration = Duration::from_secs(5);

fn kill(pid: i32, signal: i32) -> bool {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(pid, signal) == 0 }
}

/// Runs `rustgi serve`.
pub fn serve(options: SiteOptions) -> Result<ExitCode, String> {
    let site = Site::prepare(options)?;
    let conf = site.write(true)?;
    let mode = if site.options.embedded {
        "embedded in Apache's children".to_owned()
    } else {
        format!(
            "in daemon group {} ({} x {} threads)",
            site.group_name, site.options.processes, site.options.threads
        )
    };
    eprintln!(
        "rustgi: serving {} at {} {mode}",
        site.app.display(),
        site.url()
    );
    if let Some(url) = site.https_url() {
        eprintln!("rustgi: and at {url} (HTTPS, HTTP/2)");
    }
    eprintln!(
        "rustgi: server root {} (configuration {}); Ctrl-C stops",
        site.server_root.display(),
        conf.display()
    );

    // Caught from before Apache starts: a signal that comes meanwhile
    // waits in `signals` for the thread below.
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1])
        .map_err(|e| format!("cannot handle signals: {e}"))?;
    let mut child = spawn_apache(&conf)
        .map_err(|e| format!("cannot run {}: {e}", apache_binary().display()))?;
    let pid = i32::try_from(child.id()).map_err(|_| "bad pid".to_owned())?;
    let (relayed, relays_done) = mpsc::channel();
    if let Some(out) = child.stdout.take() {
        relay(out, io::stdout(), relayed.clone());
    }
    if let Some(err) = child.stderr.take() {
        relay(err, io::stderr(), relayed);
    }

    let stops = Arc::new(AtomicUsize::new(0));
    let signal_handle = signals.handle();
    let signal_thread = {
        let stops = Arc::clone(&stops);
        thread::spawn(move || {
            for signal in signals.forever() {
                if signal == SIGUSR1 {
                    eprintln!("rustgi: restarting Apache gracefully");
                    kill(pid, SIGUSR1);
                } else if stops.fetch_add(1, Ordering::SeqCst) == 0 {
                    eprintln!("rustgi: stopping Apache (Ctrl-C again to kill it)");
                    kill(pid, SIGTERM);
                } else {
                    eprintln!("rustgi: killing Apache and its processes");
                    kill(-pid, libc::SIGKILL);
                }
            }
        })
    };

    let watcher = site
        .options
        .reload_on_changes
        .then(|| Watcher::start(&site, pid))
        .flatten();

    let status = child.wait();
    // The child is reaped: from here on its pid names no process of ours.
    signal_handle.close();
    let _ = signal_thread.join();
    if let Some(w) = watcher {
        w.stop();
    }
    sweep_group(pid);
    // Apache's last lines, before ours (a process that outlived the sweep
    // may hold the pipes open: do not wait for it long).
    let deadline = Instant::now() + Duration::from_secs(2);
    for _ in 0..2 {
        let left = deadline.saturating_duration_since(Instant::now());
        if relays_done.recv_timeout(left).is_err() {
            break;
        }
    }
    let status = status.map_err(|e| format!("waiting for Apache: {e}"))?;
    if stops.load(Ordering::SeqCst) > 0 {
        eprintln!("rustgi: stopped");
        Ok(ExitCode::SUCCESS)
    } else {
        Err(format!(
            "Apache exited ({}); its log is above",
            describe(status)
        ))
    }
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => status.to_string(),
    }
}

/// `apache2 -f CONF -DFOREGROUND` in a process group of its own, with
/// SIGTERM when this process dies, its stdout and stderr on pipes.
///
/// Apache opens `/dev/stdout` and `/dev/stderr` anew for its logs, which
/// needs permission on what they are: a terminal that belongs to someone
/// else (`sudo -u`) would refuse it, while a pipe this process made is
/// always Apache's to open. [`relay`] copies the pipes to this process's
/// own stdout and stderr.
fn spawn_apache(conf: &Path) -> io::Result<Child> {
    let mut cmd = Command::new(apache_binary());
    cmd.arg("-f")
        .arg(conf)
        .arg("-DFOREGROUND")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    crate::apache::stop_with_starter(&mut cmd, libc::SIGTERM);
    cmd.spawn()
}

/// Stops what is left of the process group `pgid` (Apache's, now that its
/// parent has exited): daemon processes may still be finishing their
/// requests, for [`GROUP_GRACE`]; then SIGTERM, and SIGKILL after
/// [`SWEEP_TIMEOUT`].
fn sweep_group(pgid: i32) {
    let gone_within = |timeout: Duration| {
        let deadline = Instant::now() + timeout;
        loop {
            if !kill(-pgid, 0) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(50));
        }
    };
    if gone_within(GROUP_GRACE) {
        return;
    }
    eprintln!("rustgi: stopping the processes Apache left behind");
    kill(-pgid, SIGTERM);
    if !gone_within(SWEEP_TIMEOUT) {
        kill(-pgid, libc::SIGKILL);
    }
}

/// Copies `from` to `to` in a thread until the end of `from`, then sends
/// on `done`.
fn relay(
    mut from: impl Read + Send + 'static,
    mut to: impl Write + Send + 'static,
    done: mpsc::Sender<()>,
) {
    thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if to.write_all(&buf[..n]).and_then(|()| to.flush()).is_err() {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        let _ = done.send(());
    });
}

/// What the watcher watches.
enum Watched {
    /// A crate: rebuild on source changes, then copy the library.
    Crate { dir: PathBuf, manifest: PathBuf },
    /// A library: copy it again (when `copy`) and tell Apache (embedded).
    File { path: PathBuf, copy: bool },
}

/// The thread behind `--reload-on-changes`.
struct Watcher {
    stop: Arc<AtomicBool>,
    build: Arc<Mutex<Option<u32>>>,
    thread: thread::JoinHandle<()>,
}

impl Watcher {
    /// Starts watching, when there is anything for `rustgi` to do: not for
    /// a library served in place by a daemon group (the module reloads it).
    fn start(site: &Site, apache: i32) -> Option<Watcher> {
        let embedded = site.options.embedded;
        let watched = match &site.source {
            AppSource::Crate { dir, manifest, .. } => Watched::Crate {
                dir: dir.clone(),
                manifest: manifest.clone(),
            },
            AppSource::File { path, copied } if *copied || embedded => Watched::File {
                path: path.clone(),
                copy: *copied,
            },
            AppSource::File { .. } => return None,
        };
        let stop = Arc::new(AtomicBool::new(false));
        let build = Arc::new(Mutex::new(None));
        let served = site.app.clone();
        let thread = {
            let stop = Arc::clone(&stop);
            let build = Arc::clone(&build);
            thread::spawn(move || watch(watched, served, embedded, apache, &stop, &build))
        };
        match &site.source {
            AppSource::Crate { dir, .. } => eprintln!(
                "rustgi: watching {} for changes: they are rebuilt and reloaded",
                dir.display()
            ),
            AppSource::File { path, .. } => eprintln!(
                "rustgi: watching {} for changes: they are reloaded",
                path.display()
            ),
        }
        Some(Watcher {
            stop,
            build,
            thread,
        })
    }

    /// Stops watching, and a build under way.
    fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(pid) = *self.build.lock().unwrap_or_else(|e| e.into_inner()) {
            if let Ok(pid) = i32::try_from(pid) {
                kill(pid, SIGTERM);
            }
        }
        let _ = self.thread.join();
    }
}

/// A file's identity and contents' summary.
fn file_state(path: &Path) -> Option<(u64, u64, i64, i64)> {
    let m = fs::metadata(path).ok()?;
    Some((m.ino(), m.len(), m.mtime(), m.mtime_nsec()))
}

fn watch(
    watched: Watched,
    served: PathBuf,
    embedded: bool,
    apache: i32,
    stop: &AtomicBool,
    build: &Mutex<Option<u32>>,
) {
    let reload = || {
        if embedded {
            eprintln!("rustgi: restarting Apache gracefully to load the new library");
            kill(apache, SIGUSR1);
        }
    };
    match watched {
        Watched::Crate { dir, manifest } => {
            let mut seen = cargo::source_fingerprint(&dir);
            while !stop.load(Ordering::SeqCst) {
                thread::sleep(WATCH_INTERVAL);
                let now = cargo::source_fingerprint(&dir);
                if now == seen {
                    continue;
                }
                // Let an editor finish writing.
                thread::sleep(Duration::from_millis(200));
                seen = cargo::source_fingerprint(&dir);
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                eprintln!("rustgi: {} changed: rebuilding", dir.display());
                match rebuild(&dir, &manifest, build) {
                    Ok(built) => match install_copy(&built, &served) {
                        Ok(true) => {
                            eprintln!("rustgi: rebuilt; serving the new {}", served.display());
                            reload();
                        }
                        Ok(false) => eprintln!("rustgi: rebuilt; the library did not change"),
                        Err(e) => eprintln!("rustgi: {e}"),
                    },
                    Err(e) if stop.load(Ordering::SeqCst) => {
                        let _ = e;
                        break;
                    }
                    Err(e) => eprintln!("rustgi: {e}; still serving the previous build"),
                }
            }
        }
        Watched::File { path, copy } => {
            let mut seen = file_state(&path);
            while !stop.load(Ordering::SeqCst) {
                thread::sleep(WATCH_INTERVAL);
                let now = file_state(&path);
                if now == seen || now.is_none() {
                    continue;
                }
                thread::sleep(Duration::from_millis(200));
                seen = file_state(&path);
                eprintln!("rustgi: {} changed", path.display());
                if copy {
                    match install_copy(&path, &served) {
                        Ok(true) => reload(),
                        Ok(false) => {}
                        Err(e) => eprintln!("rustgi: {e}"),
                    }
                } else {
                    reload();
                }
            }
        }
    }
}

/// Runs the build, noting its pid in `build` so that it can be stopped.
fn rebuild(dir: &Path, manifest: &Path, build: &Mutex<Option<u32>>) -> Result<PathBuf, String> {
    let child = cargo::build_command(manifest)
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    *build.lock().unwrap_or_else(|e| e.into_inner()) = Some(child.id());
    let out = child.wait_with_output();
    *build.lock().unwrap_or_else(|e| e.into_inner()) = None;
    let out = out.map_err(|e| format!("waiting for cargo: {e}"))?;
    cargo::finish_build(dir, manifest, out.status.success(), &out.stdout)
}
