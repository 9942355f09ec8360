//! `rustgi-bench`: mod_rustgi side by side with Apache's own limit, mod_wsgi
//! and mod_proxy to a native server and to granian, on one Apache, with wrk;
//! and big downloads through `wsgi.file_wrapper`.
//!
//! `bench/run` installs what it needs, builds, and runs this; see
//! `rustgi-bench --help` and BENCHMARKS.md.

#![deny(unsafe_code)]

mod args;
mod cases;
mod chart;
mod files;
mod http;
// Process facts and CPU times from libc.
#[allow(unsafe_code)]
mod procs;
#[allow(unsafe_code)]
mod report;
#[allow(unsafe_code)]
mod site;
mod stream;
mod wrk;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use args::{Args, USAGE};
use cases::{AppSide, Case, FileCase};
use report::{Machine, Measurement, Report};
use site::{Artifacts, Granian, Hyper, SiteSpec};

fn main() -> ExitCode {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(Some(a)) => a,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("rustgi-bench: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rustgi-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The servers behind mod_proxy, by pid.
struct Backends {
    hyper: u32,
    granian: Option<u32>,
}

/// The RSS of the processes that make a case's answer.
fn app_side_rss(case: Case, apache: u32, backends: &Backends) -> u64 {
    match case.app_side() {
        AppSide::ApacheChildren => procs::total_rss(&procs::apache_children(apache)),
        AppSide::Titled(prefix) => procs::total_rss(&procs::titled_children(apache, prefix)),
        AppSide::Hyper => procs::rss(backends.hyper).unwrap_or(0),
        AppSide::Granian => backends.granian.map_or(0, |main| {
            let mut pids = procs::children_of(main);
            pids.push(main);
            procs::total_rss(&pids)
        }),
    }
}

/// A directory of our own under the temporary directory, which Apache's
/// children (`nobody` when we run as root) can traverse.
fn make_root() -> Result<PathBuf, String> {
    let base = std::env::temp_dir();
    for i in 0..100u32 {
        let dir = base.join(format!("rustgi-bench-{}-{i}", std::process::id()));
        match fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("mkdir {}: {e}", dir.display())),
        }
    }
    Err("cannot make a server root".to_owned())
}

fn have_wrk() -> bool {
    Command::new("wrk")
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Apache's error_log lines at level error or worse.
fn error_lines(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| {
            [":error]", ":crit]", ":alert]", ":emerg]"]
                .iter()
                .any(|lvl| l.contains(lvl))
        })
        .collect()
}

fn run(args: &Args) -> Result<(), String> {
    let started = Instant::now();
    let command = std::env::var("RUSTGI_BENCH_COMMAND")
        .ok()
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| std::env::args().collect::<Vec<_>>().join(" "));
    let load_before = report::load_average();
    let cpu = report::CpuShare::start();
    if !have_wrk() {
        return Err("wrk is not installed (bench/run installs it: apt-get install wrk)".into());
    }
    let artifacts = Artifacts::find(args.artifacts.as_deref())?;
    let mut notes = Vec::new();
    let wsgi = site::wsgi_available();
    let mut cases = args.cases.clone();
    let mut file_cases = args.files.clone();
    if !wsgi && (cases.iter().any(|c| c.is_wsgi()) || file_cases.contains(&FileCase::Wsgi)) {
        cases.retain(|c| !c.is_wsgi());
        file_cases.retain(|c| *c != FileCase::Wsgi);
        let why = "mod_wsgi is not installed (apt-get install libapache2-mod-wsgi-py3): its cases were skipped";
        eprintln!("rustgi-bench: {why}");
        notes.push(why.to_owned());
    }

    let root = make_root()?;
    let result = bench(args, &cases, &file_cases, &artifacts, &root, &mut notes);
    if args.keep {
        eprintln!("rustgi-bench: the server root is kept: {}", root.display());
    } else {
        let _ = fs::remove_dir_all(&root);
    }
    let (measurements, transfers, downloads) = result?;
    if args.serve.is_some() {
        return Ok(());
    }

    let load_after = report::load_average();
    let share = cpu
        .finish()
        .map(|(ours, others)| {
            format!(
                "the benchmark (wrk, Apache, the daemons, hyper, granian) used {:.0} % of the CPUs' time, \
                 other work on the machine {:.0} %",
                ours * 100.0,
                others * 100.0
            )
        })
        .unwrap_or_else(|| "the CPU time could not be told".to_owned());
    notes.push(format!(
        "During the run {share} (load average, 1, 5 and 15 min: {load_before} before, \
         {load_after} after). What others use is taken from the benchmark: figures are \
         lower and noisier then (see min–max); the ratios, within one run with the cases \
         alternating, suffer less."
    ));
    notes.extend(args.notes.iter().cloned());
    notes.push(format!(
        "The whole run took {:.0} s.",
        started.elapsed().as_secs_f64()
    ));

    let headline = args.headline_conns();
    let rows = report::rows(&measurements, &cases, &args.conns);
    let streams = report::stream_rows(&transfers);
    let file_rows = report::file_rows(&downloads, &file_cases, args.file_conns);
    let targets = report::targets(&rows, &streams, &file_rows, headline, args.threads);
    let machine = Machine::probe(args, &command);

    let mut chart = None;
    if args.write {
        let fact = |k: &str| {
            machine
                .facts
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let subtitle = format!(
            "requests/s, median of {} rounds of {} s (whisker: slowest to fastest) · {} · {} · {}",
            args.rounds,
            args.duration,
            fact("CPU")
                .split(" (")
                .next()
                .unwrap_or_default()
                .to_owned(),
            fact("Apache").split(" (").next().unwrap_or_default(),
            fact("Date")
        );
        match chart::draw(&args.chart, &rows, headline, args.threads, &subtitle) {
            Ok(()) => {
                eprintln!("rustgi-bench: wrote {}", args.chart.display());
                chart = Some(report::relative_to(&args.chart, &args.output));
            }
            Err(e) => eprintln!("rustgi-bench: no chart: {e}"),
        }
    }
    let report = Report {
        args,
        machine: &machine,
        rows: &rows,
        streams: &streams,
        files: &file_rows,
        targets: &targets,
        notes: &notes,
        chart,
    };
    println!("{}", report.text());
    if args.write {
        write_file(&args.output, &report.markdown())?;
        eprintln!("rustgi-bench: wrote {}", args.output.display());
    }
    Ok(())
}

fn write_file(path: &Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
    }
    fs::write(path, text).map_err(|e| format!("write {}: {e}", path.display()))
}

type Results = (
    Vec<Measurement>,
    Vec<stream::Transfer>,
    Vec<files::Download>,
);

/// Starts the servers and runs every case.
fn bench(
    args: &Args,
    cases: &[Case],
    file_cases: &[FileCase],
    artifacts: &Artifacts,
    root: &Path,
    notes: &mut Vec<String>,
) -> Result<Results, String> {
    let hyper = Hyper::start()?;
    let needs_venv = cases
        .iter()
        .any(|c| matches!(c, Case::Granian | Case::PoorPython1 | Case::PoorWsgi1));
    let venv = if needs_venv {
        eprintln!(
            "rustgi-bench: the venv {} (pip installs {} on the first run)",
            std::env::temp_dir().join(site::VENV_NAME).display(),
            site::PYTHON_PACKAGES.join(", ")
        );
        Some(site::venv()?)
    } else {
        None
    };
    if !file_cases.is_empty() {
        eprintln!(
            "rustgi-bench: writing the file cases' {} file",
            report::mib(args.file_mib << 20)
        );
    }
    let granian_addr = if cases.contains(&Case::Granian) {
        let port = rustgi::apache::free_port().map_err(|e| format!("no free port: {e}"))?;
        Some(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
    } else {
        None
    };
    let make_conf = site::prepare(&SiteSpec {
        root,
        artifacts,
        threads: args.threads,
        hyper: hyper.addr,
        granian: granian_addr,
        wsgi: site::wsgi_available(),
        venv: venv.as_deref(),
        file_mib: (!file_cases.is_empty()).then_some(args.file_mib),
    })?;
    // After prepare: granian serves the hello.py it wrote.
    let granian = match (granian_addr, venv.as_deref()) {
        (Some(addr), Some(venv)) => Some(Granian::start(
            venv,
            &site::py_dir(root),
            args.threads,
            addr,
        )?),
        _ => None,
    };
    let mut server = site::start(make_conf)?;
    let addr = server.addr();
    let apache = server.pid();
    let backends = Backends {
        hyper: hyper.pid(),
        granian: granian.as_ref().map(Granian::pid),
    };
    eprintln!(
        "rustgi-bench: Apache {apache} on {addr} (server root {}), hyper on {}{}",
        root.display(),
        hyper.addr,
        granian
            .as_ref()
            .map(|g| format!(", granian on {}", g.addr))
            .unwrap_or_default()
    );
    site::wait_for_cases(addr, cases, Duration::from_secs(60))?;
    for &case in file_cases {
        files::wait_ready(addr, case, Duration::from_secs(60))?;
    }
    if args.stream {
        // The streaming group answers too.
        let deadline = Instant::now() + Duration::from_secs(60);
        while let Err(e) = stream::daemon_pid(addr) {
            if Instant::now() > deadline {
                return Err(format!("the streaming group does not answer: {e}"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    if let Some(secs) = args.serve {
        for case in cases {
            println!(
                "{:<28} http://{addr}{}",
                case.label(args.threads),
                case.path()
            );
        }
        println!(
            "{:<28} http://{addr}/big/upload, /big/stream?mb=N",
            "streaming (faults)"
        );
        for case in file_cases {
            println!(
                "{:<28} http://{addr}{}",
                format!("file, {}", case.label(args.threads)),
                case.path()
            );
        }
        println!("serving for {secs} s; Apache's pid is {apache}");
        std::thread::sleep(Duration::from_secs(u64::from(secs)));
        let _ = server.stop();
        return Ok((Vec::new(), Vec::new(), Vec::new()));
    }

    let total_runs = args.rounds as usize * args.conns.len() * cases.len();
    eprintln!(
        "rustgi-bench: {} cases × {} connection counts × {} rounds = {total_runs} wrk runs of {} s (+{} s warm-up){}{}",
        cases.len(),
        args.conns.len(),
        args.rounds,
        args.duration,
        args.warmup,
        if args.stream {
            format!(", and {} MiB up and down each round", args.stream_mib)
        } else {
            String::new()
        },
        if file_cases.is_empty() {
            String::new()
        } else {
            format!(
                ", and the {} MiB file downloaded 1 and {} at a time from {} each round",
                args.file_mib,
                args.file_conns,
                file_cases
                    .iter()
                    .map(|c| c.id())
                    .collect::<Vec<_>>()
                    .join(" and ")
            )
        }
    );
    let mut measurements = Vec::new();
    let mut transfers = Vec::new();
    let mut downloads = Vec::new();
    let mut run_no = 0;
    for round in 0..args.rounds as usize {
        for &conns in &args.conns {
            // The order rotates each round: no case always runs first.
            for j in 0..cases.len() {
                let case = cases[(j + round) % cases.len()];
                let url = format!("http://{addr}{}", case.path());
                if args.warmup > 0 {
                    wrk::run(&url, conns, args.wrk_threads, args.warmup)?;
                }
                let w = wrk::run(&url, conns, args.wrk_threads, args.duration)?;
                let rss = app_side_rss(case, apache, &backends);
                run_no += 1;
                eprintln!(
                    "[{run_no:>3}/{total_runs}] round {} {:<28} {:>4} conns {:>9} req/s  p50 {:>9}  p99 {:>9}{}",
                    round + 1,
                    case.label(args.threads),
                    conns,
                    report::count(w.requests_per_sec),
                    report::latency(w.p50),
                    report::latency(w.p99),
                    if w.non_2xx + w.socket_errors > 0 {
                        format!(
                            "  ({} non-2xx, {} socket errors)",
                            w.non_2xx, w.socket_errors
                        )
                    } else {
                        String::new()
                    }
                );
                measurements.push(Measurement {
                    case,
                    conns,
                    wrk: w,
                    rss,
                });
            }
        }
        if args.stream {
            let daemon = stream::daemon_pid(addr)?;
            for dir in [stream::Direction::Up, stream::Direction::Down] {
                let t = match dir {
                    stream::Direction::Up => {
                        stream::upload(addr, apache, daemon, args.stream_mib << 20)?
                    }
                    stream::Direction::Down => {
                        stream::download(addr, apache, daemon, args.stream_mib)?
                    }
                };
                eprintln!(
                    "      round {} {:<28} {} in {:.2} s = {:.2} GB/s; daemon +{}, Apache child +{}",
                    round + 1,
                    dir.label(),
                    report::mib(t.bytes),
                    t.took.as_secs_f64(),
                    t.gb_per_sec(),
                    report::mib(t.daemon.growth()),
                    report::mib(t.child.growth()),
                );
                transfers.push(t);
            }
        }
        for j in 0..file_cases.len() {
            let case = file_cases[(j + round) % file_cases.len()];
            for conns in [1, args.file_conns] {
                let d = files::download(addr, apache, case, args.file_mib, conns)?;
                eprintln!(
                    "      round {} {:<28} {conns} × {} in {:.2} s = {:.0} MB/s, {:.0} MB per server CPU s; daemon RSS {}",
                    round + 1,
                    format!("file, {}", case.label(args.threads)),
                    report::mib(args.file_mib << 20),
                    d.took.as_secs_f64(),
                    d.mb_per_sec(),
                    d.mb_per_cpu_sec(),
                    report::mib(d.rss),
                );
                downloads.push(d);
            }
        }
    }

    if !server.is_running() {
        return Err(format!("Apache stopped during the run:\n{}", server.logs()));
    }
    let log = server.error_log();
    let errors = error_lines(&log);
    if !errors.is_empty() {
        eprintln!(
            "rustgi-bench: Apache's error_log has {} error lines; the last:\n{}",
            errors.len(),
            errors[errors.len().saturating_sub(10)..].join("\n")
        );
        notes.push(format!(
            "Apache's error_log had {} lines at level error or worse during the run.",
            errors.len()
        ));
    }
    let _ = server.stop();
    Ok((measurements, transfers, downloads))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_lines_are_found() {
        let log = "[x] [mpm_event:notice] [pid 1] resuming\n[x] [rustgi:error] [pid 2] boom\n";
        assert_eq!(error_lines(log), ["[x] [rustgi:error] [pid 2] boom"]);
    }
}
