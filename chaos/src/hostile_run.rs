//! `rustgi-chaos --hostile`: the hostile requests of [`crate::hostile`]
//! against a fresh Apache (embedded and daemon mode; the echo app, and
//! `examples/simple` for the app-level cases; a PoorWSGI app in a Python
//! daemon group), with the counts for RELIABILITY.md.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::thread;
use std::time::{Duration, Instant};

use crate::hostile::{self, Outcome};
use crate::logs;
use crate::site::{Artifacts, Site};
use rustgi::python_venv as python;

/// The venv of the Python group, in the temporary directory.
pub const VENV_NAME: &str = "rustgi-chaos-venv";

/// What a hostile run found.
#[derive(Debug)]
pub struct HostileReport {
    pub outcomes: Vec<Outcome>,
    pub seconds: f64,
    /// AH00051/AH00052 lines about Apache's children (must be empty).
    pub child_crashes: Vec<String>,
    /// Daemon processes that died during the run (must be empty).
    pub daemon_deaths: Vec<String>,
    /// 5xx lines of the access_log (must be empty).
    pub access_5xx: Vec<String>,
    pub parent_alive: bool,
}

impl HostileReport {
    pub fn passed(&self) -> bool {
        self.outcomes.iter().all(|o| o.verdict.passed())
            && self.child_crashes.is_empty()
            && self.daemon_deaths.is_empty()
            && self.access_5xx.is_empty()
            && self.parent_alive
    }

    /// The counts as a Markdown table.
    pub fn markdown(&self) -> String {
        let (per, all) = hostile::counts(&self.outcomes);
        let mut t = String::new();
        let _ = writeln!(
            t,
            "| hostile input | tried | 4xx | clean close | served (valid HTTP) | **5xx** | other failures |"
        );
        let _ = writeln!(t, "|---|---:|---:|---:|---:|---:|---:|");
        let row = |t: &mut String, name: &str, c: &hostile::Counts| {
            let _ = writeln!(
                t,
                "| {name} | {} | {} | {} | {} | **{}** | {} |",
                c.tried, c.client_errors, c.closed, c.served, c.server_errors, c.failed
            );
        };
        for (cat, c) in &per {
            row(&mut t, cat.label(), c);
        }
        row(&mut t, "**all**", &all);
        let _ = writeln!(t);
        let _ = writeln!(
            t,
            "The protocol-level cases ran against the echo app embedded (`/emb`) and in a \
             daemon group (`/dmn`) and against the PoorWSGI app in a Python daemon group \
             (`/pdmn`), the app-level ones against `examples/simple` embedded (`/semb`) and in \
             the same group as the echo app (`/sdmn`), the Python ones against the PoorWSGI \
             app; {} cases ({}) in {:.1} s. \
             Apache child crashes (AH00051/AH00052): **{}**; daemon processes that \
             died: **{}**; 5xx lines in the access_log: **{}**; Apache's parent {}.",
            self.outcomes.len(),
            self.per_target(),
            self.seconds,
            self.child_crashes.len(),
            self.daemon_deaths.len(),
            self.access_5xx.len(),
            if self.parent_alive {
                "ran throughout"
            } else {
                "DIED"
            }
        );
        t
    }

    /// How many cases went to each app and mode: `/emb` 57, ...
    fn per_target(&self) -> String {
        let mut per: Vec<(&str, usize)> = Vec::new();
        for o in &self.outcomes {
            let target = o.case.id.split('/').next().unwrap_or("");
            match per.iter_mut().find(|(t, _)| *t == target) {
                Some((_, n)) => *n += 1,
                None => per.push((target, 1)),
            }
        }
        per.iter()
            .map(|(t, n)| format!("`/{t}` {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// What failed, if anything.
    pub fn problems(&self) -> String {
        let mut out = hostile::describe_failures(&self.outcomes);
        for (title, lines) in [
            ("Apache child crashes", &self.child_crashes),
            ("daemon deaths", &self.daemon_deaths),
            ("5xx in the access_log", &self.access_5xx),
        ] {
            if !lines.is_empty() {
                let _ = write!(out, "\n{title}:\n  {}", lines.join("\n  "));
            }
        }
        out
    }
}

/// Runs every hostile case against a fresh Apache.
pub fn run(artifacts: &Artifacts, keep: bool) -> Result<HostileReport, String> {
    let venv = python::venv(VENV_NAME, hostile::PYTHON_PACKAGES)?;
    let mut site = Site::start(
        artifacts,
        "rustgi-hostile-",
        &[&artifacts.echo, &artifacts.simple],
        &[(hostile::POORWSGI_APP_NAME, hostile::POORWSGI_APP)],
        hostile::MODULES,
        "info",
        &hostile::server_config(&venv.display().to_string()),
    )?;
    site.root.keep = keep;
    let addr = site.server.addr();
    let started = Instant::now();
    let outcomes = hostile::run_all(addr, hostile::all_cases(&addr.to_string()), 8);
    let seconds = started.elapsed().as_secs_f64();
    // Let the logs settle (abandoned requests finish, deaths get logged).
    thread::sleep(Duration::from_secs(1));
    let log = site.error_log();
    let parent_alive = site.server.is_running();
    let daemon_deaths = logs::daemon_deaths(&log, 0)
        .into_iter()
        .map(|d| format!("group {}: process {} {}", d.group, d.pid, d.how))
        .collect();
    Ok(HostileReport {
        outcomes,
        seconds,
        child_crashes: logs::child_crashes(&log, &BTreeSet::new()),
        daemon_deaths,
        access_5xx: logs::server_errors(&site.access_log()),
        parent_alive,
    })
}
