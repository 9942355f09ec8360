//! `rustgi-chaos`: see `rustgi-chaos --help` and RELIABILITY.md.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use rustgi_chaos::chaos::{self, Options};
use rustgi_chaos::site::Artifacts;
use rustgi_chaos::{hostile, hostile_run, report};

const USAGE: &str = "\
usage: rustgi-chaos [--minutes N | --seconds N] [options]
       rustgi-chaos --hostile [options]

Starts its own Apache (a free port on 127.0.0.1) with mod_rustgi and:

  (default)  holds load against a daemon group (processes=2 threads=4
             maximum-requests=200) serving the echo and faults test apps,
             while it SIGKILLs daemons, calls the fault endpoints, sends
             SIGUSR1 (graceful restart) and replaces the app .so; then
             prints a table. Exit status 1 unless every failed request was
             in flight at a fault, no body was corrupted and no Apache
             child crashed.
  --hostile  sends the hostile requests (malformed chunking, truncated
             bodies, NUL and invalid UTF-8, huge headers, bodies over
             LimitRequestBody, slow clients, smuggling; and, to
             examples/simple, malformed forms and JSON and forged session
             cookies) in embedded and daemon mode, and all but the
             session cookies to a PoorWSGI app in a Python daemon group
             (its venv, /tmp/rustgi-chaos-venv, is made with pip on the
             first run); exit status 1 if any got a 5xx or crashed
             anything.

options:
  --minutes N, --seconds N  how long to hold the load (default 60 s)
  --clients K               client threads (default 6)
  --seed N                  random seed (default: from the clock)
  --max-requests N          the group's maximum-requests (default 200)
  --artifacts DIR           the build (default: beside this executable;
                            or $RUSTGI_ARTIFACTS)
  --update FILE.md          write the table into FILE.md, between the
                            markers <!-- BEGIN chaos ... --> / <!-- END chaos -->
                            (hostile: ... hostile ...)
  --keep                    keep the server root (httpd.conf, logs)
  --verbose                 progress every 10 s; with --hostile, every case

Build first: cargo build --release --workspace";

struct Args {
    hostile: bool,
    opts: Options,
    artifacts: Option<PathBuf>,
    update: Option<PathBuf>,
    verbose: bool,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut a = Args {
        hostile: false,
        opts: Options::default(),
        artifacts: None,
        update: None,
        verbose: false,
    };
    let number = |name: &str, v: Option<String>| -> Result<u64, String> {
        let v = v.ok_or(format!("{name} needs a value"))?;
        v.parse().map_err(|_| format!("{name}: not a number: {v}"))
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--hostile" => a.hostile = true,
            "--minutes" => {
                a.opts.duration = Duration::from_secs(60 * number(&arg, args.next())?);
            }
            "--seconds" => a.opts.duration = Duration::from_secs(number(&arg, args.next())?),
            "--clients" => a.opts.clients = number(&arg, args.next())?.max(1) as usize,
            "--seed" => a.opts.seed = number(&arg, args.next())?,
            "--max-requests" => {
                a.opts.maximum_requests = u32::try_from(number(&arg, args.next())?)
                    .map_err(|_| "--max-requests: too large".to_owned())?;
            }
            "--artifacts" => {
                a.artifacts = Some(args.next().ok_or("--artifacts needs a DIR")?.into())
            }
            "--update" => a.update = Some(args.next().ok_or("--update needs a FILE")?.into()),
            "--keep" => a.opts.keep = true,
            "--verbose" | "-v" => a.verbose = true,
            "--help" | "-h" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.verbose {
        a.opts.progress = Some(Duration::from_secs(10));
    }
    Ok(a)
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("rustgi-chaos: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let artifacts = match Artifacts::locate(args.artifacts.clone()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("rustgi-chaos: {e}");
            return ExitCode::from(2);
        }
    };
    let (passed, table, problems, section) = if args.hostile {
        eprintln!(
            "rustgi-chaos: hostile requests against {}",
            artifacts.dir.display()
        );
        match hostile_run::run(&artifacts, args.opts.keep) {
            Ok(r) => {
                if args.verbose {
                    println!("{}\n", hostile::describe_all(&r.outcomes));
                }
                (r.passed(), r.markdown(), r.problems(), "hostile")
            }
            Err(e) => {
                eprintln!("rustgi-chaos: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        eprintln!(
            "rustgi-chaos: {} s of chaos, {} clients, seed {}, build {}",
            args.opts.duration.as_secs(),
            args.opts.clients,
            args.opts.seed,
            artifacts.dir.display()
        );
        match chaos::run(&artifacts, &args.opts) {
            Ok(r) => {
                if args.verbose {
                    println!("faults injected:\n{}\n", r.timeline.join("\n"));
                }
                if let Some(dir) = &r.kept {
                    eprintln!("rustgi-chaos: logs kept in {dir}");
                }
                (r.passed(), r.markdown(), r.problems(), "chaos")
            }
            Err(e) => {
                eprintln!("rustgi-chaos: {e}");
                return ExitCode::FAILURE;
            }
        }
    };
    println!("{table}");
    if !problems.trim().is_empty() {
        println!("{problems}");
    }
    if let Some(path) = &args.update {
        if let Err(e) = report::update_file(path, section, &table) {
            eprintln!("rustgi-chaos: {e}");
            return ExitCode::FAILURE;
        }
        eprintln!("rustgi-chaos: wrote the table into {}", path.display());
    }
    println!("{}", if passed { "PASSED" } else { "FAILED" });
    if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
