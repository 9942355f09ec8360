//! The command line of `rustgi-bench`.

use std::path::PathBuf;

use crate::cases::{Case, FileCase};

pub const USAGE: &str = "\
usage: rustgi-bench [OPTIONS]

Runs every case on one Apache (event MPM) with wrk on 127.0.0.1, alternating
the cases over several rounds, then the 1 GiB streaming cases and the
wsgi.file_wrapper downloads; prints a table, writes it into BENCHMARKS.md
and draws docs/bench.png. The Python packages of its cases (granian,
PoorWSGI) are installed from PyPI into a venv, /tmp/rustgi-bench-venv, on
the first run.

options:
  --duration SECS      measured seconds of each wrk run (default 5)
  --warmup SECS        unmeasured wrk seconds before each run (default 1; 0: none)
  --rounds N           rounds over all cases; the median is reported (default 3)
  --conns LIST         connection counts, comma separated (default 1,16,128);
                       the largest is the one requests/s, the chart and the
                       targets are about
  --threads N          threads of each daemon process, rustgi and wsgi (default 16)
  --wrk-threads N      wrk threads (default 2, at most the connections)
  --cases LIST         the cases to run, comma separated (default: all):
                       limit,static,embedded,daemon1,daemon2,python1,python2,
                       wsgi1,wsgi2,proxy,granian,poorwsgi-python1,
                       poorwsgi-wsgi1 (wrk), and file-python,file-wsgi,file-static (the
                       wsgi.file_wrapper downloads); limit is always run: the
                       ratios are to it. The Python cases alone, say:
                       --cases python1,granian,poorwsgi-python1,poorwsgi-wsgi1,
                       wsgi1,file-python,file-wsgi,file-static --no-stream
  --stream-mib N       MiB moved each way by the streaming cases (default 1024)
  --no-stream          skip the streaming cases
  --file-mib N         MiB of the file the file cases download (default 1024)
  --file-conns N       concurrent downloads of the file cases' second
                       measure, after one alone (default 4)
  --artifacts DIR      where libmod_rustgi.so, rustgi-daemon, libhello.so and
                       libfaults.so are (default: beside this program, or
                       target/release of the workspace)
  --output FILE        the markdown report (default BENCHMARKS.md in the workspace)
  --chart FILE         the PNG chart (default docs/bench.png in the workspace)
  --no-write           print the table only: write neither file
  --note TEXT          a line for the report's notes (repeatable)
  --keep               keep the server root (its httpd.conf and logs) afterwards
  --serve SECS         no benchmark: start the servers, print each case's URL
                       and keep serving for SECS seconds (to profile a case
                       under a load of one's own)
  -h, --help           this text
";

/// What the command line asks for.
#[derive(Clone, Debug)]
pub struct Args {
    pub duration: u32,
    pub warmup: u32,
    pub rounds: u32,
    pub conns: Vec<u32>,
    pub threads: u32,
    pub wrk_threads: u32,
    pub cases: Vec<Case>,
    pub files: Vec<FileCase>,
    pub stream_mib: u64,
    pub stream: bool,
    pub file_mib: u64,
    pub file_conns: u32,
    pub artifacts: Option<PathBuf>,
    pub output: PathBuf,
    pub chart: PathBuf,
    pub write: bool,
    pub notes: Vec<String>,
    pub keep: bool,
    /// Only serve, for this many seconds.
    pub serve: Option<u32>,
}

/// The workspace this program was built from (`bench/..`).
pub fn workspace_dir() -> PathBuf {
    let bench = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    bench.parent().map(PathBuf::from).unwrap_or(bench)
}

impl Default for Args {
    fn default() -> Self {
        let ws = workspace_dir();
        Args {
            duration: 5,
            warmup: 1,
            rounds: 3,
            conns: vec![1, 16, 128],
            threads: 16,
            wrk_threads: 2,
            cases: Case::ALL.to_vec(),
            files: FileCase::ALL.to_vec(),
            stream_mib: 1024,
            stream: true,
            file_mib: 1024,
            file_conns: 4,
            artifacts: None,
            output: ws.join("BENCHMARKS.md"),
            chart: ws.join("docs").join("bench.png"),
            write: true,
            notes: Vec::new(),
            keep: false,
            serve: None,
        }
    }
}

fn number<T: std::str::FromStr>(opt: &str, value: &str) -> Result<T, String> {
    value
        .trim()
        .parse()
        .map_err(|_| format!("{opt}: not a number: {value}"))
}

fn positive(opt: &str, value: &str) -> Result<u32, String> {
    let n: u32 = number(opt, value)?;
    if n == 0 {
        return Err(format!("{opt} must be at least 1"));
    }
    Ok(n)
}

impl Args {
    /// Parses the arguments (without the program name). `Ok(None)`: help
    /// was asked for.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Option<Args>, String> {
        let mut a = Args::default();
        let mut it = args.into_iter();
        while let Some(arg) = it.next() {
            let (opt, inline) = match arg.split_once('=') {
                Some((o, v)) if o.starts_with("--") => (o.to_owned(), Some(v.to_owned())),
                _ => (arg.clone(), None),
            };
            let mut value = || -> Result<String, String> {
                inline
                    .clone()
                    .or_else(|| it.next())
                    .ok_or_else(|| format!("{opt} needs a value"))
            };
            match opt.as_str() {
                "-h" | "--help" => return Ok(None),
                "--duration" => a.duration = positive(&opt, &value()?)?,
                "--warmup" => a.warmup = number(&opt, &value()?)?,
                "--rounds" => a.rounds = positive(&opt, &value()?)?,
                "--threads" => a.threads = positive(&opt, &value()?)?,
                "--wrk-threads" => a.wrk_threads = positive(&opt, &value()?)?,
                "--conns" => {
                    let v = value()?;
                    let mut conns = v
                        .split(',')
                        .map(|c| positive(&opt, c))
                        .collect::<Result<Vec<_>, _>>()?;
                    conns.sort_unstable();
                    conns.dedup();
                    a.conns = conns;
                }
                "--cases" => {
                    let v = value()?;
                    let mut cases = vec![Case::Limit];
                    let mut files = Vec::new();
                    for name in v.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                        if let Some(file) = FileCase::from_id(name) {
                            if !files.contains(&file) {
                                files.push(file);
                            }
                            continue;
                        }
                        let case = Case::from_id(name).ok_or_else(|| {
                            format!("--cases: unknown case `{name}` (see --help)")
                        })?;
                        if !cases.contains(&case) {
                            cases.push(case);
                        }
                    }
                    cases.sort_by_key(|c| Case::ALL.iter().position(|x| x == c));
                    files.sort();
                    a.cases = cases;
                    a.files = files;
                }
                "--stream-mib" => {
                    let n: u64 = number(&opt, &value()?)?;
                    if n == 0 {
                        return Err("--stream-mib must be at least 1".to_owned());
                    }
                    a.stream_mib = n;
                }
                "--no-stream" => a.stream = false,
                "--file-mib" => {
                    let n: u64 = number(&opt, &value()?)?;
                    if n == 0 {
                        return Err("--file-mib must be at least 1".to_owned());
                    }
                    a.file_mib = n;
                }
                "--file-conns" => a.file_conns = positive(&opt, &value()?)?,
                "--artifacts" => a.artifacts = Some(PathBuf::from(value()?)),
                "--output" => a.output = PathBuf::from(value()?),
                "--chart" => a.chart = PathBuf::from(value()?),
                "--no-write" => a.write = false,
                "--note" => a.notes.push(value()?),
                "--keep" => a.keep = true,
                "--serve" => a.serve = Some(positive(&opt, &value()?)?),
                _ => return Err(format!("unknown option `{arg}` (see --help)")),
            }
        }
        Ok(Some(a))
    }

    /// The connection count the headline figures are about: the largest.
    pub fn headline_conns(&self) -> u32 {
        self.conns.last().copied().unwrap_or(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Args>, String> {
        Args::parse(args.iter().map(|s| (*s).to_owned()))
    }

    #[test]
    fn defaults() {
        let a = parse(&[]).unwrap().unwrap();
        assert_eq!((a.duration, a.warmup, a.rounds), (5, 1, 3));
        assert_eq!(a.conns, [1, 16, 128]);
        assert_eq!(a.headline_conns(), 128);
        assert_eq!(a.cases, Case::ALL);
        assert_eq!(a.files, FileCase::ALL);
        assert_eq!((a.file_mib, a.file_conns), (1024, 4));
        assert!(a.stream && a.write);
    }

    #[test]
    fn options() {
        let a = parse(&[
            "--duration=2",
            "--warmup",
            "0",
            "--conns",
            "64,1",
            "--cases",
            "proxy,daemon1",
            "--no-stream",
        ])
        .unwrap()
        .unwrap();
        assert_eq!((a.duration, a.warmup), (2, 0));
        assert_eq!(a.conns, [1, 64]);
        assert_eq!(a.cases, [Case::Limit, Case::Daemon1, Case::Proxy]);
        assert!(a.files.is_empty());
        assert!(!a.stream);
        let a = parse(&["--cases", "file-wsgi,granian,file-python", "--file-mib=64"])
            .unwrap()
            .unwrap();
        assert_eq!(a.cases, [Case::Limit, Case::Granian]);
        assert_eq!(a.files, [FileCase::Python, FileCase::Wsgi]);
        assert_eq!(a.file_mib, 64);
        assert!(parse(&["--help"]).unwrap().is_none());
        assert!(parse(&["--rounds", "0"]).is_err());
        assert!(parse(&["--cases", "nope"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
        assert!(parse(&["--duration"]).is_err());
    }
}
