//! The daemon's command line; its configuration file is
//! [`rustgi_contract::daemon_config`], the contract with the Apache parent.

use std::ffi::OsString;
use std::path::PathBuf;

/// `rustgi-daemon --config FILE --listen-fd N [--process N] [--start-delay-ms N]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// The JSON configuration file.
    pub config: PathBuf,
    /// The inherited listening UNIX socket.
    pub listen_fd: i32,
    /// The process's number within its group (1-based), for log lines.
    pub process: u32,
    /// How long to wait before loading the apps (the supervisor's back-off).
    pub start_delay_ms: u64,
}

pub const USAGE: &str =
    "usage: rustgi-daemon --config FILE --listen-fd N [--process N] [--start-delay-ms N]";

impl Args {
    /// Parses the arguments after `argv[0]`. Options take their value as the
    /// next argument or after `=`.
    pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Args, String> {
        let mut config = None;
        let mut listen_fd = None;
        let mut process = 1;
        let mut start_delay_ms = 0;
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let arg = arg
                .into_string()
                .map_err(|a| format!("argument {a:?} is not UTF-8"))?;
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) if n.starts_with("--") => (n.to_owned(), Some(v.to_owned())),
                _ => (arg, None),
            };
            let mut value = |what: &str| -> Result<String, String> {
                match inline.clone() {
                    Some(v) => Ok(v),
                    None => args
                        .next()
                        .ok_or_else(|| format!("{what} needs a value"))?
                        .into_string()
                        .map_err(|a| format!("the value {a:?} of {what} is not UTF-8")),
                }
            };
            let number = |what: &str, v: String| -> Result<u64, String> {
                v.parse::<u64>()
                    .map_err(|_| format!("{what} needs a number, not {v:?}"))
            };
            match name.as_str() {
                "--config" => config = Some(PathBuf::from(value("--config")?)),
                "--listen-fd" => {
                    let n = number("--listen-fd", value("--listen-fd")?)?;
                    listen_fd = Some(
                        i32::try_from(n).map_err(|_| format!("--listen-fd {n} is too large"))?,
                    );
                }
                "--process" => {
                    let n = number("--process", value("--process")?)?;
                    process =
                        u32::try_from(n).map_err(|_| format!("--process {n} is too large"))?;
                }
                "--start-delay-ms" => {
                    start_delay_ms = number("--start-delay-ms", value("--start-delay-ms")?)?;
                }
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        Ok(Args {
            config: config.ok_or("--config is required")?,
            listen_fd: listen_fd.ok_or("--listen-fd is required")?,
            process,
            start_delay_ms,
        })
    }
}

pub use rustgi_contract::daemon_config::{AppSpec, Config, ConfigError, MAX_SECONDS, MAX_THREADS};

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Result<Args, String> {
        Args::parse(list.iter().map(OsString::from))
    }

    #[test]
    fn command_line() {
        assert_eq!(
            args(&["--config", "/c.json", "--listen-fd", "3"]).unwrap(),
            Args {
                config: "/c.json".into(),
                listen_fd: 3,
                process: 1,
                start_delay_ms: 0
            }
        );
        let a = args(&[
            "--listen-fd=7",
            "--config=/x",
            "--process",
            "2",
            "--start-delay-ms",
            "500",
        ])
        .unwrap();
        assert_eq!((a.listen_fd, a.process, a.start_delay_ms), (7, 2, 500));
        assert!(
            args(&["--config", "/c"])
                .unwrap_err()
                .contains("--listen-fd")
        );
        assert!(
            args(&["--listen-fd", "3"])
                .unwrap_err()
                .contains("--config")
        );
        assert!(args(&["--listen-fd", "x", "--config", "/c"]).is_err());
        assert!(args(&["--listen-fd"]).is_err());
        assert!(args(&["--bogus"]).unwrap_err().contains("--bogus"));
    }
}
