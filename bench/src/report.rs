//! The results: medians over the rounds, the targets, the machine, and the
//! table as text and as markdown.
//!
//! Long because every figure of BENCHMARKS.md is made here, next to the
//! target it is held against, so that a table and its verdicts cannot
//! disagree.

use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::args::Args;
use crate::cases::{Case, FileCase};
use crate::files::Download;
use crate::stream::{Direction, Transfer};
use crate::wrk::WrkResult;

/// One wrk run of a case.
#[derive(Clone, Debug)]
pub struct Measurement {
    pub case: Case,
    pub conns: u32,
    pub wrk: WrkResult,
    /// RSS of the case's app side after the run.
    pub rss: u64,
}

/// A case at a connection count, over the rounds.
#[derive(Clone, Debug)]
pub struct Row {
    pub case: Case,
    pub conns: u32,
    pub rps: f64,
    pub rps_min: f64,
    pub rps_max: f64,
    pub p50: Duration,
    pub p99: Duration,
    /// The largest RSS seen after a run.
    pub rss: u64,
    /// Non-2xx answers and socket errors, all rounds.
    pub errors: u64,
    /// requests/s over the limit's, at the same connection count.
    pub ratio: Option<f64>,
}

fn median_f64(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn median_duration(v: Vec<Duration>) -> Duration {
    Duration::from_secs_f64(median_f64(v.iter().map(Duration::as_secs_f64).collect()))
}

/// The rows, in case order then connection order.
pub fn rows(measurements: &[Measurement], cases: &[Case], conns: &[u32]) -> Vec<Row> {
    let mut rows = Vec::new();
    for &case in cases {
        for &c in conns {
            let ms: Vec<&Measurement> = measurements
                .iter()
                .filter(|m| m.case == case && m.conns == c)
                .collect();
            if ms.is_empty() {
                continue;
            }
            let rps: Vec<f64> = ms.iter().map(|m| m.wrk.requests_per_sec).collect();
            rows.push(Row {
                case,
                conns: c,
                rps: median_f64(rps.clone()),
                rps_min: rps.iter().copied().fold(f64::INFINITY, f64::min),
                rps_max: rps.iter().copied().fold(0.0, f64::max),
                p50: median_duration(ms.iter().map(|m| m.wrk.p50).collect()),
                p99: median_duration(ms.iter().map(|m| m.wrk.p99).collect()),
                rss: ms.iter().map(|m| m.rss).max().unwrap_or(0),
                errors: ms.iter().map(|m| m.wrk.non_2xx + m.wrk.socket_errors).sum(),
                ratio: None,
            });
        }
    }
    let limits: Vec<(u32, f64)> = rows
        .iter()
        .filter(|r| r.case == Case::Limit)
        .map(|r| (r.conns, r.rps))
        .collect();
    for r in &mut rows {
        r.ratio = limits
            .iter()
            .find(|(c, _)| *c == r.conns)
            .filter(|(_, l)| *l > 0.0)
            .map(|(_, l)| r.rps / l);
    }
    rows
}

/// The streaming figures over the rounds: the median time, the largest
/// growths.
#[derive(Clone, Debug)]
pub struct StreamRow {
    pub direction: Direction,
    pub bytes: u64,
    pub took: Duration,
    pub gb_per_sec: f64,
    /// The transfer whose memory is shown: the one where the larger of the
    /// two growths was largest.
    pub worst: Transfer,
}

pub fn stream_rows(transfers: &[Transfer]) -> Vec<StreamRow> {
    let mut out = Vec::new();
    for dir in [Direction::Up, Direction::Down] {
        let ts: Vec<&Transfer> = transfers.iter().filter(|t| t.direction == dir).collect();
        let Some(worst) = ts
            .iter()
            .max_by_key(|t| t.daemon.growth().max(t.child.growth()))
        else {
            continue;
        };
        let took = median_duration(ts.iter().map(|t| t.took).collect());
        let bytes = worst.bytes;
        out.push(StreamRow {
            direction: dir,
            bytes,
            took,
            gb_per_sec: bytes as f64 / took.as_secs_f64().max(1e-9) / 1e9,
            worst: (*worst).clone(),
        });
    }
    out
}

/// A file case at a number of concurrent downloads, over the rounds.
#[derive(Clone, Debug)]
pub struct FileRow {
    pub case: FileCase,
    pub conns: u32,
    /// Bytes of one measure (all its downloads).
    pub bytes: u64,
    /// Megabytes per second: the median, the slowest and the fastest round.
    pub mb_per_sec: f64,
    pub min: f64,
    pub max: f64,
    /// Megabytes per second of the server's CPU time, the median round.
    pub mb_per_cpu_sec: f64,
    /// The largest RSS of the daemon process after a measure.
    pub rss: u64,
}

/// The file rows, in case order, one download before `conns` at once.
pub fn file_rows(downloads: &[Download], cases: &[FileCase], conns: u32) -> Vec<FileRow> {
    let mut out = Vec::new();
    for &case in cases {
        for c in [1, conns] {
            let ds: Vec<&Download> = downloads
                .iter()
                .filter(|d| d.case == case && d.conns == c)
                .collect();
            if ds.is_empty() || out.iter().any(|r: &FileRow| r.case == case && r.conns == c) {
                continue;
            }
            let speeds: Vec<f64> = ds.iter().map(|d| d.mb_per_sec()).collect();
            out.push(FileRow {
                case,
                conns: c,
                bytes: ds[0].bytes,
                mb_per_sec: median_f64(speeds.clone()),
                min: speeds.iter().copied().fold(f64::INFINITY, f64::min),
                max: speeds.iter().copied().fold(0.0, f64::max),
                mb_per_cpu_sec: median_f64(ds.iter().map(|d| d.mb_per_cpu_sec()).collect()),
                rss: ds.iter().map(|d| d.rss).max().unwrap_or(0),
            });
        }
    }
    out
}

/// A target of the issue and whether this run met it.
#[derive(Clone, Debug)]
pub struct Target {
    pub what: String,
    pub measured: String,
    pub met: bool,
}

fn row_at(rows: &[Row], case: Case, conns: u32) -> Option<&Row> {
    rows.iter().find(|r| r.case == case && r.conns == conns)
}

/// The targets that this run's cases allow to judge, at `conns`.
pub fn targets(
    rows: &[Row],
    streams: &[StreamRow],
    files: &[FileRow],
    conns: u32,
    threads: u32,
) -> Vec<Target> {
    let mut out = Vec::new();
    let rps = |c: Case| row_at(rows, c, conns).map(|r| r.rps);
    let mut ratio = |a: Case, b: Case, min: f64, name_b: &str| {
        if let (Some(x), Some(y)) = (rps(a), rps(b).filter(|y| *y > 0.0)) {
            let r = x / y;
            out.push(Target {
                what: format!("{} ≥ {min} × {name_b}", a.label(threads)),
                measured: format!("{r:.2} ×"),
                met: r >= min,
            });
        }
    };
    for d in [Case::Daemon1, Case::Daemon2] {
        ratio(d, Case::Limit, 0.75, "the limit");
        let wsgi = if d == Case::Daemon1 {
            Case::Wsgi1
        } else {
            Case::Wsgi2
        };
        ratio(d, wsgi, 3.0, &wsgi.label(threads));
        ratio(d, Case::Proxy, 1.2, "mod_proxy → hyper");
    }
    ratio(Case::Embedded, Case::Limit, 0.95, "the limit");
    // The Python bridge against mod_wsgi at the same size, and against
    // granian (one process each).
    ratio(Case::Python1, Case::Wsgi1, 1.5, &Case::Wsgi1.label(threads));
    ratio(Case::Python2, Case::Wsgi2, 1.5, &Case::Wsgi2.label(threads));
    ratio(
        Case::PoorPython1,
        Case::PoorWsgi1,
        1.5,
        &Case::PoorWsgi1.label(threads),
    );
    ratio(
        Case::Python1,
        Case::Granian,
        1.0,
        &Case::Granian.label(threads),
    );
    // A daemon process no larger than mod_wsgi's, serving the same script.
    for (ours, theirs) in [
        (Case::Python1, Case::Wsgi1),
        (Case::Python2, Case::Wsgi2),
        (Case::PoorPython1, Case::PoorWsgi1),
    ] {
        let per_process =
            |c: Case| row_at(rows, c, conns).map(|r| r.rss / u64::from(c.processes().max(1)));
        if let (Some(a), Some(b)) = (per_process(ours), per_process(theirs)) {
            out.push(Target {
                what: format!(
                    "{}: RSS of a daemon process ≤ {}'s",
                    ours.label(threads),
                    theirs.label(threads)
                ),
                measured: format!("{} against {}", mib(a), mib(b)),
                met: a <= b,
            });
        }
    }
    // The file_wrapper download against mod_wsgi's daemon mode: as the
    // client sees it, and for the server's CPU time (on one machine the
    // client shares the cores, and caps what the clock shows; the static
    // file's row shows that cap).
    let row = |case: FileCase, c: u32| files.iter().find(|r| r.case == case && r.conns == c);
    let speed = |case, c| row(case, c).map(|r| r.mb_per_sec);
    let cpu_speed = |case, c| row(case, c).map(|r| r.mb_per_cpu_sec);
    let mut file_conns: Vec<u32> = files.iter().map(|r| r.conns).collect();
    file_conns.sort_unstable();
    file_conns.dedup();
    for c in file_conns {
        if let (Some(a), Some(b)) = (
            speed(FileCase::Python, c),
            speed(FileCase::Wsgi, c).filter(|b| *b > 0.0),
        ) {
            let r = a / b;
            out.push(Target {
                what: format!(
                    "wsgi.file_wrapper, {} at once: {} ≥ 2 × {}",
                    c,
                    FileCase::Python.label(threads),
                    FileCase::Wsgi.label(threads)
                ),
                measured: format!("{r:.2} × ({a:.0} against {b:.0} MB/s)"),
                met: r >= 2.0,
            });
        }
        if let (Some(a), Some(b)) = (
            cpu_speed(FileCase::Python, c),
            cpu_speed(FileCase::Wsgi, c).filter(|b| *b > 0.0),
        ) {
            let r = a / b;
            out.push(Target {
                what: format!(
                    "wsgi.file_wrapper, {} at once, per server CPU second: {} ≥ 2 × {}",
                    c,
                    FileCase::Python.label(threads),
                    FileCase::Wsgi.label(threads)
                ),
                measured: format!("{r:.2} × ({a:.0} against {b:.0} MB per CPU s)"),
                met: r >= 2.0,
            });
        }
    }
    for s in streams {
        out.push(Target {
            what: format!("{}: ≥ 1 GB/s", s.direction.label()),
            measured: format!("{:.2} GB/s", s.gb_per_sec),
            met: s.gb_per_sec >= 1.0,
        });
        let grown = s.worst.daemon.growth().max(s.worst.child.growth());
        out.push(Target {
            what: format!(
                "{}: RSS growth < 64 MiB (daemon, Apache child)",
                s.direction.label()
            ),
            measured: format!(
                "{}, {}",
                mib(s.worst.daemon.growth()),
                mib(s.worst.child.growth())
            ),
            met: grown < 64 << 20,
        });
    }
    out
}

pub fn mib(bytes: u64) -> String {
    let m = bytes as f64 / f64::from(1u32 << 20);
    if m < 10.0 {
        format!("{m:.1} MiB")
    } else {
        format!("{m:.0} MiB")
    }
}

pub fn latency(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.0} µs")
    } else if us < 1e6 {
        format!("{:.2} ms", us / 1e3)
    } else {
        format!("{:.2} s", us / 1e6)
    }
}

/// `12345.6` as `12 346`.
pub fn count(x: f64) -> String {
    let s = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push('\u{202f}');
        }
        out.push(ch);
    }
    out
}

/// The machine and the software of the run.
#[derive(Clone, Debug, Default)]
pub struct Machine {
    pub facts: Vec<(String, String)>,
}

fn command_output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    if text.trim().is_empty() {
        text = String::from_utf8_lossy(&out.stderr).into_owned();
    }
    let text = text.trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// The 1, 5 and 15 minute load averages.
pub fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// All CPUs' (busy, total) jiffies since boot, from `/proc/stat`.
fn cpu_jiffies() -> Option<(u64, u64)> {
    let stat = fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is in user).
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

/// The CPU time of this process and of its reaped children (wrk, hyper,
/// and Apache with everything it reaped: its children and the daemons).
fn own_cpu() -> Duration {
    let mut total = Duration::ZERO;
    for who in [libc::RUSAGE_SELF, libc::RUSAGE_CHILDREN] {
        // SAFETY: an all-zero rusage is a valid value of this plain C struct.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: getrusage writes one rusage into the valid pointer.
        if unsafe { libc::getrusage(who, &mut ru) } == 0 {
            for tv in [ru.ru_utime, ru.ru_stime] {
                total += Duration::from_secs(u64::try_from(tv.tv_sec).unwrap_or(0))
                    + Duration::from_micros(u64::try_from(tv.tv_usec).unwrap_or(0));
            }
        }
    }
    total
}

/// Who used the CPUs during a stretch of time: the machine's busy jiffies
/// against our own CPU time.
pub struct CpuShare {
    jiffies: Option<(u64, u64)>,
    own: Duration,
}

impl CpuShare {
    pub fn start() -> CpuShare {
        CpuShare {
            jiffies: cpu_jiffies(),
            own: own_cpu(),
        }
    }

    /// The shares of all the CPUs' time since `start`, 0 to 1, that the
    /// benchmark (this process and its reaped children) and everything
    /// else used: `(ours, others)`.
    pub fn finish(&self) -> Option<(f64, f64)> {
        let (b0, t0) = self.jiffies?;
        let (b1, t1) = cpu_jiffies()?;
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        if t1 <= t0 || hz <= 0 {
            return None;
        }
        let total = (t1 - t0) as f64;
        let ours = (own_cpu().saturating_sub(self.own)).as_secs_f64() * hz as f64;
        let busy = (b1 - b0) as f64;
        Some((
            (ours / total).min(1.0),
            ((busy - ours).max(0.0) / total).min(1.0),
        ))
    }
}

/// The workspace's git commit, and whether the work tree differs from it in
/// anything but `own`, the files this run writes (the report and the chart
/// of the run before are no change to the code measured).
fn revision(own: &[&Path]) -> Option<String> {
    let ws = crate::args::workspace_dir();
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .arg("-C")
            .arg(&ws)
            .args(args)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let commit = git(&["rev-parse", "--short=12", "HEAD"])?;
    let commit = commit.trim();
    let own: Vec<&Path> = own
        .iter()
        .filter_map(|p| p.strip_prefix(&ws).ok())
        .collect();
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
        .is_some_and(|status| changes_besides(&status, &own));
    Some(if dirty {
        format!("commit {commit}, with uncommitted changes")
    } else {
        format!("commit {commit}")
    })
}

/// Whether `git status --porcelain` lists a changed file other than `own`
/// (paths relative to the work tree).
fn changes_besides(porcelain: &str, own: &[&Path]) -> bool {
    porcelain.lines().any(|line| {
        // "XY PATH", or "XY OLD -> NEW" for a rename.
        let path = line.get(3..).unwrap_or("");
        !own.iter().any(|o| Path::new(path) == *o)
    })
}

impl Machine {
    pub fn probe(args: &Args, command: &str) -> Machine {
        let mut facts = Vec::new();
        let mut fact = |k: &str, v: Option<String>| {
            facts.push((k.to_owned(), v.unwrap_or_else(|| "?".to_owned())));
        };
        let lscpu = command_output("lscpu", &[]).unwrap_or_default();
        let field = |name: &str| {
            lscpu.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                (k.trim() == name).then(|| v.trim().to_owned())
            })
        };
        let cpu = field("Model name");
        let cpus = field("CPU(s)");
        let hyper = field("Hypervisor vendor");
        fact(
            "CPU",
            cpu.map(|m| {
                let mut s = format!("{m}, {} CPUs", cpus.unwrap_or_else(|| "?".into()));
                if let Some(h) = hyper {
                    let _ = write!(s, " (virtual machine, {h})");
                }
                s
            }),
        );
        let mem = fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
            let kb: u64 = m
                .lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))?
                .split_whitespace()
                .next()?
                .parse()
                .ok()?;
            Some(format!("{:.1} GiB", kb as f64 / 1024.0 / 1024.0))
        });
        fact("Memory", mem);
        fact(
            "OS",
            fs::read_to_string("/etc/os-release").ok().and_then(|t| {
                t.lines()
                    .find_map(|l| l.strip_prefix("PRETTY_NAME="))
                    .map(|v| v.trim_matches('"').to_owned())
            }),
        );
        fact(
            "Kernel",
            fs::read_to_string("/proc/sys/kernel/osrelease")
                .ok()
                .map(|s| s.trim().to_owned()),
        );
        let apache = rustgi::apache::apache_binary()
            .to_string_lossy()
            .into_owned();
        fact(
            "Apache",
            command_output(&apache, &["-v"]).and_then(|v| {
                v.lines()
                    .next()
                    .map(|l| l.trim_start_matches("Server version:").trim().to_owned())
            }),
        );
        fact(
            "mod_wsgi",
            command_output(
                "dpkg-query",
                &["-W", "-f", "${Version}", "libapache2-mod-wsgi-py3"],
            )
            .map(|v| format!("libapache2-mod-wsgi-py3 {v}")),
        );
        fact(
            "wrk",
            command_output("wrk", &["-v"]).and_then(|v| {
                let first = v.lines().next()?;
                Some(first.split(" Copyright").next().unwrap_or(first).to_owned())
            }),
        );
        fact("Rust", command_output("rustc", &["-V"]));
        fact(
            "mod_rustgi",
            revision(&[args.output.as_path(), args.chart.as_path()]),
        );
        fact(
            "Date",
            command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        );
        fact("Command", Some(format!("`{command}`")));
        fact(
            "Settings",
            Some(format!(
                "{} s per run after {} s of warm-up, {} rounds, wrk threads {}, connections {}, daemon threads {}",
                args.duration,
                args.warmup,
                args.rounds,
                args.wrk_threads,
                args.conns
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join("/"),
                args.threads
            )),
        );
        Machine { facts }
    }
}

/// Everything the report shows.
pub struct Report<'a> {
    pub args: &'a Args,
    pub machine: &'a Machine,
    pub rows: &'a [Row],
    pub streams: &'a [StreamRow],
    pub files: &'a [FileRow],
    pub targets: &'a [Target],
    pub notes: &'a [String],
    /// The chart, relative to the report (when one was drawn).
    pub chart: Option<String>,
}

fn table(out: &mut String, head: &[&str], rows: &[Vec<String>], markdown: bool) {
    if markdown {
        let _ = writeln!(out, "| {} |", head.join(" | "));
        let _ = writeln!(
            out,
            "|{}|",
            head.iter()
                .enumerate()
                .map(|(i, _)| if i == 0 { "---" } else { "---:" })
                .collect::<Vec<_>>()
                .join("|")
        );
        for r in rows {
            let _ = writeln!(out, "| {} |", r.join(" | "));
        }
        return;
    }
    let widths: Vec<usize> = (0..head.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([head[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let pad = widths[i] - c.chars().count();
                if i == 0 {
                    format!("{c}{}", " ".repeat(pad))
                } else {
                    format!("{}{c}", " ".repeat(pad))
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
    };
    let _ = writeln!(out, "{}", line(head.to_vec()));
    let total: usize = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
    let _ = writeln!(out, "{}", "-".repeat(total));
    for r in rows {
        let _ = writeln!(out, "{}", line(r.iter().map(String::as_str).collect()));
    }
}

impl Report<'_> {
    fn request_table(&self, out: &mut String, markdown: bool) {
        let t = self.args.threads;
        let head = [
            "case",
            "conns",
            "requests/s",
            "min–max",
            "× limit",
            "p50",
            "p99",
            "RSS",
        ];
        let rows: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| {
                let mut name = r.case.label(t);
                if r.errors > 0 {
                    let _ = write!(name, " ({} errors)", r.errors);
                }
                if markdown && r.conns == self.args.headline_conns() {
                    name = format!("**{name}**");
                }
                vec![
                    name,
                    r.conns.to_string(),
                    count(r.rps),
                    format!("{}–{}", count(r.rps_min), count(r.rps_max)),
                    r.ratio.map(|x| format!("{x:.2}")).unwrap_or_default(),
                    latency(r.p50),
                    latency(r.p99),
                    format!("{} {}", mib(r.rss), r.case.app_side_words()),
                ]
            })
            .collect();
        table(out, &head, &rows, markdown);
    }

    fn stream_table(&self, out: &mut String, markdown: bool) {
        let head = [
            "transfer",
            "size",
            "time",
            "GB/s",
            "daemon RSS: before → peak",
            "Apache child RSS: before → peak",
        ];
        let rows: Vec<Vec<String>> = self
            .streams
            .iter()
            .map(|s| {
                let w = &s.worst;
                vec![
                    s.direction.label().to_owned(),
                    mib(s.bytes),
                    format!("{:.2} s", s.took.as_secs_f64()),
                    format!("{:.2}", s.gb_per_sec),
                    format!(
                        "{} → {} (+{})",
                        mib(w.daemon.before),
                        mib(w.daemon.peak),
                        mib(w.daemon.growth())
                    ),
                    format!(
                        "{} → {} (+{}){}",
                        mib(w.child.before),
                        mib(w.child.peak),
                        mib(w.child.growth()),
                        if w.child_by_socket {
                            ""
                        } else {
                            " (the child that grew most)"
                        }
                    ),
                ]
            })
            .collect();
        table(out, &head, &rows, markdown);
    }

    fn file_table(&self, out: &mut String, markdown: bool) {
        let t = self.args.threads;
        let head = [
            "file_wrapper download",
            "at once",
            "MB/s",
            "min–max",
            "MB per server CPU s",
            "moved",
            "daemon RSS",
        ];
        let rows: Vec<Vec<String>> = self
            .files
            .iter()
            .map(|r| {
                vec![
                    r.case.label(t),
                    r.conns.to_string(),
                    format!("{:.0}", r.mb_per_sec),
                    format!("{:.0}–{:.0}", r.min, r.max),
                    format!("{:.0}", r.mb_per_cpu_sec),
                    mib(r.bytes),
                    if r.rss == 0 {
                        "—".to_owned()
                    } else {
                        mib(r.rss)
                    },
                ]
            })
            .collect();
        table(out, &head, &rows, markdown);
    }

    fn target_table(&self, out: &mut String, markdown: bool) {
        let rows: Vec<Vec<String>> = self
            .targets
            .iter()
            .map(|t| {
                vec![
                    t.what.clone(),
                    t.measured.clone(),
                    if t.met { "met" } else { "MISSED" }.to_owned(),
                ]
            })
            .collect();
        table(out, &["target", "measured", ""], &rows, markdown);
    }

    /// The tables as plain text, for the terminal.
    pub fn text(&self) -> String {
        let mut out = String::new();
        self.request_table(&mut out, false);
        if !self.streams.is_empty() {
            out.push('\n');
            self.stream_table(&mut out, false);
        }
        if !self.files.is_empty() {
            out.push('\n');
            self.file_table(&mut out, false);
        }
        if !self.targets.is_empty() {
            let _ = writeln!(
                out,
                "\ntargets (requests/s at {} connections):",
                self.args.headline_conns()
            );
            self.target_table(&mut out, false);
        }
        out
    }

    /// BENCHMARKS.md.
    pub fn markdown(&self) -> String {
        let a = self.args;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# Benchmarks\n\n\
             mod_rustgi side by side with Apache's own limit, mod_wsgi and mod_proxy \
             (to hyper and to granian), written by `bench/run` (see \
             [the README](README.md#benchmarks) to run it). \
             One Apache 2.4 (event MPM, the same tuning for every case, no access log) \
             serves every case at its own URL; each case answers the same 13 bytes, \
             `Hello, World!` as text/plain. wrk on 127.0.0.1 drives each case for {} s \
             after {} s of warm-up; the cases alternate, over {} rounds, and the figures \
             are the medians of the rounds (min–max: the spread of requests/s over the \
             rounds). The ratios are to the limit at the same number of connections.\n",
            a.duration, a.warmup, a.rounds
        );
        if let Some(chart) = &self.chart {
            let _ = writeln!(out, "![requests/s per case]({chart})\n");
        }
        let _ = writeln!(out, "## Machine\n\n| | |\n|---|---|");
        for (k, v) in &self.machine.facts {
            let _ = writeln!(out, "| {k} | {v} |");
        }
        let _ = writeln!(
            out,
            "\n## Requests\n\nThe rows in bold are at {} connections: the requests/s the chart and the targets are about. \
             RSS: the largest resident set seen after a run, summed over the processes named. \
             A case marked (N errors) had N answers other than 2xx or socket errors (wrk's connect, \
             read, write and timeout errors) over its rounds.\n",
            a.headline_conns()
        );
        self.request_table(&mut out, true);
        if !self.streams.is_empty() {
            let _ = writeln!(
                out,
                "\n## Streaming\n\n{} each way through a daemon group of tests/apps/faults \
                 (1 process, 2 threads) on one connection, by the benchmark's own client: \
                 up, `PUT /big/upload?sum=crc32` (the app reads the body in 64 KiB reads and \
                 computes its CRC-32, which the client checks); \
                 down, `GET /big/stream` (the app writes 64 KiB writes of `x`, chunked). \
                 Time: the median of the rounds; memory: the peak resident set (VmHWM, reset \
                 when the transfer starts) against the resident set then, of the daemon process \
                 and of the Apache child that held the connection (found by its socket), the \
                 worst round. GB/s are decimal gigabytes.\n",
                mib(self.streams[0].bytes)
            );
            self.stream_table(&mut out, true);
        }
        if !self.files.is_empty() {
            let first = &self.files[0];
            let _ = writeln!(
                out,
                "\n## wsgi.file_wrapper\n\n\
                 `bench/file_wrapper.py` answers `environ['wsgi.file_wrapper'](open(path, 'rb'))` \
                 with the file's Content-Length, for a file of {} of real data (written once \
                 per run into the server root, so it is in the page cache), from a daemon group \
                 of 1 process of {} threads: through mod_rustgi's Python bridge and in mod_wsgi \
                 daemon mode, with `EnableSendfile On`. The benchmark's own client downloads it \
                 alone, then {} times at once, and checks every byte. MB/s (decimal): all the \
                 bytes of a measure over the time from its first request to its last byte, the \
                 median of the rounds (min–max: the spread over the rounds). The client runs \
                 on the same cores and, with its own copy and check of every byte, caps what \
                 the clock shows: the same file as a static file (`Alias`), which Apache sends \
                 with `sendfile` alone, shows that cap. MB per server CPU s: the bytes over the \
                 CPU time (user and system) that all of Apache's processes and the daemons \
                 spent meanwhile: how fast the server sends the file for what it spends, the \
                 measure of its own speed. Under mod_rustgi the daemon passes the open file to \
                 the Apache child, which sends it as a file bucket; mod_wsgi's daemon reads the \
                 file and writes it to the Apache child, which copies it to the client. Daemon \
                 RSS: the daemon process after a measure, the largest. mod_wsgi's embedded mode is not \
                 measured: the benchmark runs with `WSGIRestrictEmbedded On`, which keeps Python \
                 out of Apache's children for every other case.\n",
                mib(first.bytes / u64::from(first.conns)),
                a.threads,
                a.file_conns,
            );
            self.file_table(&mut out, true);
        }
        if !self.targets.is_empty() {
            let _ = writeln!(
                out,
                "\n## Targets\n\nThe issue's targets, as ratios within this run (requests/s and RSS at {} \
                 connections; the file_wrapper downloads in MB/s).\n",
                a.headline_conns()
            );
            self.target_table(&mut out, true);
        }
        let _ = writeln!(
            out,
            "\n## Cases\n\n\
             - **limit: C handler in Apache**: `bench/mod_bench_limit.c`, `SetHandler bench-limit`: the answer written (and flushed) by Apache's handler hook, no app behind it.\n\
             - **limit: static file (Alias)**: a 13-byte file through `Alias`, by Apache's default handler.\n\
             - **mod_rustgi embedded**: `examples/hello` in Apache's children (`RustgiScriptAlias /embedded`).\n\
             - **mod_rustgi daemon P×T**: `examples/hello` in a `RustgiDaemonProcess` of P processes of T threads.\n\
             - **mod_rustgi Python daemon P×T**: `bench/hello.py` through mod_rustgi's Python bridge, in a `RustgiDaemonProcess` of P processes of T threads.\n\
             - **mod_wsgi daemon P×T**: `bench/hello.py` in a `WSGIDaemonProcess` of P processes of T threads (Debian's libapache2-mod-wsgi-py3, Python 3), `application-group=%{{GLOBAL}}`.\n\
             - **mod_proxy → hyper**: `ProxyPass` (mod_proxy_http, pooled keep-alive connections) to `bench-hyper`, a hyper 1 server on tokio (one worker thread per CPU) on 127.0.0.1.\n\
             - **mod_proxy → granian WSGI 1 worker**: `ProxyPass` (the same) to granian (from PyPI, in the benchmark's venv) serving `bench/hello.py` through its WSGI interface, 1 worker, with as many blocking threads (the threads that run Python) as a daemon process has; RSS: its main process and its worker.\n\
             - **PoorWSGI, mod_rustgi Python daemon 1×T** and **PoorWSGI, mod_wsgi daemon 1×T**: `GET /hello/World`, a route of `bench/poorwsgi_hello.py` (PoorWSGI from PyPI, in the benchmark's venv, given as `python-home`), which answers the same 13 bytes, through the Python bridge and in mod_wsgi daemon mode.\n\
             \n\
             Every case runs with `EnableSendfile On`. The benchmark's venv (`/tmp/rustgi-bench-venv`, made with Debian's `python3 -m venv` and pip on the first run) holds {}.\n",
            crate::site::PYTHON_PACKAGES.join(" and ")
        );
        if !self.notes.is_empty() {
            let _ = writeln!(out, "## Notes\n");
            for n in self.notes {
                let _ = writeln!(out, "- {n}");
            }
        }
        out
    }
}

/// `path` relative to the directory of `from`, when it is inside it.
pub fn relative_to(path: &Path, from: &Path) -> String {
    let abs = |p: &Path| {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir().unwrap_or_default().join(p)
        }
    };
    let (path, from) = (abs(path), abs(from));
    let dir = from.parent().unwrap_or(Path::new("/"));
    path.strip_prefix(dir)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| path.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_files_a_run_writes_are_no_change_to_the_code() {
        let own = [Path::new("BENCHMARKS.md"), Path::new("docs/bench.png")];
        assert!(!changes_besides("", &own));
        assert!(!changes_besides(
            " M BENCHMARKS.md\n M docs/bench.png\n",
            &own
        ));
        assert!(!changes_besides("M  BENCHMARKS.md\n", &own));
        assert!(changes_besides(
            " M BENCHMARKS.md\nMM host/src/lib.rs\n",
            &own
        ));
        assert!(changes_besides(" D README.md\n", &own));
    }

    fn m(case: Case, conns: u32, rps: f64) -> Measurement {
        Measurement {
            case,
            conns,
            wrk: WrkResult {
                requests_per_sec: rps,
                p50: Duration::from_micros(rps as u64),
                ..WrkResult::default()
            },
            rss: 1 << 20,
        }
    }

    #[test]
    fn medians_and_ratios() {
        let ms = [
            m(Case::Limit, 16, 100.0),
            m(Case::Limit, 16, 300.0),
            m(Case::Limit, 16, 200.0),
            m(Case::Daemon1, 16, 150.0),
            m(Case::Daemon1, 16, 170.0),
            m(Case::Daemon1, 16, 160.0),
        ];
        let rows = rows(&ms, &[Case::Limit, Case::Daemon1], &[16]);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].rps, 200.0);
        assert_eq!((rows[0].rps_min, rows[0].rps_max), (100.0, 300.0));
        assert_eq!(rows[1].rps, 160.0);
        assert_eq!(rows[1].ratio, Some(0.8));
        assert_eq!(rows[1].p50, Duration::from_micros(160));
        let t = targets(&rows, &[], &[], 16, 16);
        assert_eq!(t.len(), 1);
        assert!(t[0].met, "{t:?}");
        assert_eq!(median_f64(vec![1.0, 2.0]), 1.5);
    }

    #[test]
    fn python_targets_ratios_memory_and_files() {
        let mut ms = vec![
            m(Case::Python1, 128, 300.0),
            m(Case::Granian, 128, 250.0),
            m(Case::PoorPython1, 128, 100.0),
            m(Case::PoorWsgi1, 128, 80.0),
        ];
        ms[2].rss = 20 << 20;
        ms[3].rss = 40 << 20;
        let cases = [
            Case::Python1,
            Case::Granian,
            Case::PoorPython1,
            Case::PoorWsgi1,
        ];
        let rows = rows(&ms, &cases, &[128]);
        let download = |case, conns, secs| Download {
            case,
            conns,
            bytes: u64::from(conns) * 1_000_000_000,
            took: Duration::from_secs(secs),
            rss: 1 << 20,
            server_cpu: secs as f64 / 2.0,
        };
        let downloads = [
            download(FileCase::Python, 1, 1),
            download(FileCase::Wsgi, 1, 4),
            download(FileCase::Python, 4, 4),
            download(FileCase::Wsgi, 4, 4),
        ];
        let files = file_rows(&downloads, &FileCase::ALL, 4);
        assert_eq!(files.len(), 4);
        assert_eq!((files[0].conns, files[1].conns), (1, 4));
        assert!((files[0].mb_per_sec - 1000.0).abs() < 1e-6);
        let t = targets(&rows, &[], &files, 128, 16);
        let find = |what: &str| {
            t.iter()
                .find(|t| t.what.contains(what))
                .unwrap_or_else(|| panic!("no target {what}: {t:#?}"))
        };
        let granian = find("granian");
        assert!(granian.met && granian.measured == "1.20 ×", "{granian:?}");
        assert!(!find("PoorWSGI, mod_rustgi Python daemon 1×16 ≥ 1.5").met);
        let memory = find("RSS of a daemon process");
        assert!(memory.met, "{memory:?}");
        assert_eq!(memory.measured, "20 MiB against 40 MiB");
        assert!(find("1 at once:").met);
        assert!(!find("4 at once:").met);
        let per_cpu = find("1 at once, per server CPU second");
        assert!(per_cpu.met, "{per_cpu:?}");
        assert!(per_cpu.measured.starts_with("4.00 ×"), "{per_cpu:?}");
        assert!(!find("4 at once, per server CPU second").met);
        assert_eq!(t.len(), 7, "{t:#?}");
    }

    #[test]
    fn formats() {
        assert_eq!(count(1234567.4), "1\u{202f}234\u{202f}567");
        assert_eq!(count(999.0), "999");
        assert_eq!(latency(Duration::from_micros(250)), "250 µs");
        assert_eq!(latency(Duration::from_micros(2500)), "2.50 ms");
        assert_eq!(mib(3 << 19), "1.5 MiB");
        assert_eq!(
            relative_to(
                Path::new("/w/docs/bench.png"),
                Path::new("/w/BENCHMARKS.md")
            ),
            "docs/bench.png"
        );
    }
}
