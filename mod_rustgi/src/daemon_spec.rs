//! `RustgiDaemonProcess NAME option=value ...`: a daemon process group, as
//! written in the configuration. Pure parsing with safe defaults (those of
//! mod_wsgi-express where mod_wsgi has none).

use std::time::Duration;

use rustgi_contract::daemon_config::{MAX_SECONDS, MAX_THREADS};

use crate::directive_error::DirectiveError;

pub const DAEMON_PROCESS: &str = "RustgiDaemonProcess";

/// A daemon process group's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonSpec {
    pub name: String,
    pub processes: u32,
    pub threads: u32,
    /// None: Apache's `User`.
    pub user: Option<String>,
    /// None: the user's primary group, or Apache's `Group`.
    pub group: Option<String>,
    /// None: the user's home directory.
    pub home: Option<String>,
    pub umask: Option<u32>,
    /// What `ps` shows; `%{GROUP}` stands for `(rustgi:NAME)`.
    pub display_name: Option<String>,
    pub maximum_requests: u64,
    pub restart_interval: Duration,
    pub inactivity_timeout: Duration,
    pub request_timeout: Duration,
    pub graceful_timeout: Duration,
    pub shutdown_timeout: Duration,
    pub startup_timeout: Duration,
    pub queue_timeout: Duration,
    pub connect_timeout: Duration,
    pub socket_timeout: Duration,
    pub listen_backlog: u32,
    /// Bytes; 0: no limit.
    pub memory_limit: u64,
    pub cpu_time_limit: Duration,
    pub env: Vec<(String, String)>,
    /// `python-home=`: the Python (a virtual environment) of the group's
    /// WSGI scripts.
    pub python_home: Option<String>,
    /// `python-path=`: directories added to `sys.path`, in order.
    pub python_path: Vec<String>,
    /// Where the directive was written ("line N of FILE"), for messages.
    pub defined_at: Option<String>,
}

impl DaemonSpec {
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            processes: 1,
            threads: 15,
            user: None,
            group: None,
            home: None,
            umask: None,
            display_name: None,
            maximum_requests: 0,
            restart_interval: Duration::ZERO,
            inactivity_timeout: Duration::ZERO,
            request_timeout: Duration::from_secs(60),
            graceful_timeout: Duration::from_secs(15),
            shutdown_timeout: Duration::from_secs(5),
            startup_timeout: Duration::from_secs(15),
            queue_timeout: Duration::from_secs(45),
            connect_timeout: Duration::from_secs(15),
            socket_timeout: Duration::from_secs(60),
            listen_backlog: 100,
            memory_limit: 0,
            cpu_time_limit: Duration::ZERO,
            env: Vec::new(),
            python_home: None,
            python_path: Vec::new(),
            defined_at: None,
        }
    }

    /// The process title: display-name with `%{GROUP}` expanded, or
    /// `(rustgi:NAME)`.
    pub fn process_title(&self) -> String {
        let group = format!("(rustgi:{})", self.name);
        match &self.display_name {
            Some(title) => title.replace("%{GROUP}", &group),
            None => group,
        }
    }
}

/// Splits a directive's raw arguments into words the way Apache does for
/// configuration lines: whitespace separates words; a word that starts with
/// `"` or `'` runs to the matching quote, inside which a backslash escapes
/// that quote.
pub fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut chars = line.trim().chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut word = String::new();
        if c == '"' || c == '\'' {
            chars.next();
            let mut closed = false;
            while let Some(ch) = chars.next() {
                if ch == '\\' && chars.peek() == Some(&c) {
                    word.push(c);
                    chars.next();
                } else if ch == c {
                    closed = true;
                    break;
                } else {
                    word.push(ch);
                }
            }
            if !closed {
                return Err(format!("unterminated quote in {line:?}"));
            }
        } else {
            while let Some(&ch) = chars.peek() {
                if ch.is_whitespace() {
                    break;
                }
                word.push(ch);
                chars.next();
            }
        }
        words.push(word);
    }
    Ok(words)
}

/// A group name: letters, digits, `-`, `_` and `.`, so that it can name a
/// socket file and appear in log lines as it is.
pub fn check_group_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "group name '{name}' must be 1 to 64 letters, digits, '-', '_' or '.'"
        ))
    }
}

fn number<T>(option: &str, value: &str, min: T) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    match value.parse::<T>() {
        Ok(n) if n >= min => Ok(n),
        _ => Err(format!(
            "{option}={value}: expected a whole number of at least {min}"
        )),
    }
}

/// A whole number from `min` to `max`.
fn number_in<T>(option: &str, value: &str, min: T, max: T) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    match value.parse::<T>() {
        Ok(n) if n >= min && n <= max => Ok(n),
        _ => Err(format!(
            "{option}={value}: expected a whole number from {min} to {max}"
        )),
    }
}

/// The most processes a group may have: a typo must not fork thousands.
pub const MAX_PROCESSES: u32 = 1000;
/// The longest listen queue asked for (the kernel caps it at somaxconn).
pub const MAX_LISTEN_BACKLOG: u32 = 65_535;

/// Seconds, from `min` to the most the daemon takes (about ten years).
fn seconds_from(option: &str, value: &str, min: u64) -> Result<Duration, String> {
    match value.parse::<u64>() {
        Ok(n) if (min..=MAX_SECONDS).contains(&n) => Ok(Duration::from_secs(n)),
        _ => Err(format!(
            "{option}={value}: expected a whole number of seconds from {min} to {MAX_SECONDS}"
        )),
    }
}

fn seconds(option: &str, value: &str) -> Result<Duration, String> {
    seconds_from(option, value, 0)
}

/// Bytes, with an optional K, M or G suffix (powers of 1024).
fn bytes(option: &str, value: &str) -> Result<u64, String> {
    let (digits, unit) = match value.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&value[..i], c.to_ascii_uppercase()),
        _ => (value, 'B'),
    };
    let shift = match unit {
        'B' => 0,
        'K' => 10,
        'M' => 20,
        'G' => 30,
        _ => return Err(format!("{option}={value}: the unit must be K, M or G")),
    };
    let n: u64 = number(option, digits, 0)?;
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("{option}={value}: too large"))
}

fn non_empty(option: &str, value: &str) -> Result<String, String> {
    if value.is_empty() {
        Err(format!("{option}= needs a value"))
    } else {
        Ok(value.to_owned())
    }
}

/// Parses the arguments of `RustgiDaemonProcess`.
pub fn parse_daemon_process(args: &str) -> Result<DaemonSpec, DirectiveError> {
    let err = |message: String| DirectiveError::new(DAEMON_PROCESS, message);
    let words = split_words(args).map_err(err)?;
    let Some((name, options)) = words.split_first() else {
        return Err(err("expected NAME [option=value ...]".to_owned()));
    };
    check_group_name(name).map_err(err)?;
    let mut spec = DaemonSpec::new(name);
    for option in options {
        let Some((key, value)) = option.split_once('=') else {
            return Err(err(format!("'{option}' is not option=value")));
        };
        apply_option(&mut spec, key, value).map_err(err)?;
    }
    Ok(spec)
}

fn apply_option(spec: &mut DaemonSpec, key: &str, value: &str) -> Result<(), String> {
    match key {
        "processes" => spec.processes = number_in(key, value, 1, MAX_PROCESSES)?,
        "threads" => spec.threads = number_in(key, value, 1, MAX_THREADS)?,
        "user" => {
            let user = non_empty(key, value)?;
            if user == "root" || user == "0" || user == "#0" {
                return Err("user=root is refused: daemon processes never run as root".into());
            }
            spec.user = Some(user);
        }
        "group" => spec.group = Some(non_empty(key, value)?),
        "home" => {
            if !value.starts_with('/') {
                return Err(format!("home={value}: must be an absolute path"));
            }
            spec.home = Some(value.to_owned());
        }
        "umask" => {
            let mask = u32::from_str_radix(value, 8)
                .ok()
                .filter(|m| *m <= 0o777)
                .ok_or_else(|| format!("umask={value}: expected an octal mask like 0022"))?;
            spec.umask = Some(mask);
        }
        "display-name" => spec.display_name = Some(non_empty(key, value)?),
        "maximum-requests" => spec.maximum_requests = number(key, value, 0)?,
        "restart-interval" => spec.restart_interval = seconds(key, value)?,
        "inactivity-timeout" => spec.inactivity_timeout = seconds(key, value)?,
        "request-timeout" => spec.request_timeout = seconds(key, value)?,
        "graceful-timeout" => spec.graceful_timeout = seconds(key, value)?,
        "shutdown-timeout" => spec.shutdown_timeout = seconds(key, value)?,
        "startup-timeout" => spec.startup_timeout = seconds(key, value)?,
        "queue-timeout" => spec.queue_timeout = seconds(key, value)?,
        "connect-timeout" => spec.connect_timeout = seconds(key, value)?,
        "socket-timeout" => spec.socket_timeout = seconds_from(key, value, 1)?,
        "listen-backlog" => {
            spec.listen_backlog = number_in(key, value, 1, MAX_LISTEN_BACKLOG)?;
        }
        "memory-limit" => spec.memory_limit = bytes(key, value)?,
        "cpu-time-limit" => spec.cpu_time_limit = seconds(key, value)?,
        "env" => {
            let (name, val) = value
                .split_once('=')
                .filter(|(n, _)| !n.is_empty())
                .ok_or_else(|| format!("env={value}: expected env=KEY=VALUE"))?;
            spec.env.push((name.to_owned(), val.to_owned()));
        }
        "python-home" => {
            if !value.starts_with('/') {
                return Err(format!("python-home={value}: must be an absolute path"));
            }
            spec.python_home = Some(value.to_owned());
        }
        "python-path" => {
            let dirs = parse_python_path("python-path=", value)?;
            spec.python_path.extend(dirs);
        }
        // mod_wsgi's names for the locale of the processes.
        "lang" => spec.env.push(("LANG".into(), non_empty(key, value)?)),
        "locale" => spec.env.push(("LC_ALL".into(), non_empty(key, value)?)),
        _ => return Err(format!("unknown option '{key}'")),
    }
    Ok(())
}

/// Parses a python-path (`python-path=` here, `RustgiPythonPath`):
/// absolute directories joined by `:`.
pub fn parse_python_path(option: &str, value: &str) -> Result<Vec<String>, String> {
    value
        .split(':')
        .filter(|dir| !dir.is_empty())
        .map(|dir| {
            if dir.starts_with('/') {
                Ok(dir.to_owned())
            } else {
                Err(format!("{option}{value}: '{dir}' is not an absolute path"))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_safe() {
        let spec = parse_daemon_process("shop").unwrap();
        assert_eq!(spec.processes, 1);
        assert_eq!(spec.threads, 15);
        assert_eq!(spec.request_timeout, Duration::from_secs(60));
        assert_eq!(spec.queue_timeout, Duration::from_secs(45));
        assert_eq!(spec.socket_timeout, Duration::from_secs(60));
        assert_eq!(spec.listen_backlog, 100);
        assert_eq!(spec.process_title(), "(rustgi:shop)");
    }

    #[test]
    fn every_option_parses() {
        let spec = parse_daemon_process(
            "shop user=shop group=shop processes=2 threads=8 maximum-requests=10000 \
             restart-interval=3600 inactivity-timeout=300 request-timeout=30 \
             graceful-timeout=10 shutdown-timeout=3 startup-timeout=20 queue-timeout=5 \
             connect-timeout=2 socket-timeout=9 listen-backlog=50 memory-limit=512M \
             cpu-time-limit=100 home=/srv/shop umask=0027 display-name=%{GROUP}-x \
             env=A=1 \"env=B=two words\" python-home=/srv/venv python-path=/srv/a:/srv/b \
             lang=en_US.UTF-8 locale=C.UTF-8",
        )
        .unwrap();
        assert_eq!(spec.python_home.as_deref(), Some("/srv/venv"));
        assert_eq!(spec.python_path, ["/srv/a", "/srv/b"]);
        assert_eq!(spec.user.as_deref(), Some("shop"));
        assert_eq!(spec.processes, 2);
        assert_eq!(spec.threads, 8);
        assert_eq!(spec.maximum_requests, 10000);
        assert_eq!(spec.memory_limit, 512 << 20);
        assert_eq!(spec.umask, Some(0o027));
        assert_eq!(spec.home.as_deref(), Some("/srv/shop"));
        assert_eq!(spec.process_title(), "(rustgi:shop)-x");
        assert_eq!(spec.socket_timeout, Duration::from_secs(9));
        assert_eq!(
            spec.env,
            vec![
                ("A".into(), "1".into()),
                ("B".into(), "two words".into()),
                ("LANG".into(), "en_US.UTF-8".into()),
                ("LC_ALL".into(), "C.UTF-8".into())
            ]
        );
    }

    #[test]
    fn errors_name_the_option() {
        let cases = [
            ("shop bogus=1", "unknown option 'bogus'"),
            ("shop processes=0", "processes=0"),
            ("shop threads=x", "threads=x"),
            ("shop user=root", "user=root is refused"),
            ("shop umask=999", "umask=999"),
            ("shop memory-limit=5T", "memory-limit=5T"),
            (
                "shop graceful-timeout=18446744073709551615",
                "graceful-timeout=18446744073709551615: expected a whole number of seconds from 0 to 315360000",
            ),
            (
                "shop socket-timeout=0",
                "socket-timeout=0: expected a whole number of seconds from 1",
            ),
            ("shop home=relative", "home=relative"),
            ("shop env=novalue", "env=novalue"),
            (
                "shop python-home=venv",
                "python-home=venv: must be an absolute path",
            ),
            ("shop python-path=/a:b", "'b' is not an absolute path"),
            ("shop nokey", "'nokey' is not option=value"),
            ("'sh op'", "group name"),
            ("", "expected NAME"),
            ("shop \"unterminated", "unterminated quote"),
        ];
        for (line, expected) in cases {
            let e = parse_daemon_process(line).unwrap_err();
            assert_eq!(e.directive, DAEMON_PROCESS);
            assert!(e.message.contains(expected), "{line}: {}", e.message);
        }
    }

    #[test]
    fn times_may_be_as_long_as_the_daemon_takes() {
        let longest = format!("shop request-timeout={MAX_SECONDS} restart-interval={MAX_SECONDS}");
        let spec = parse_daemon_process(&longest).unwrap();
        assert_eq!(spec.request_timeout, Duration::from_secs(MAX_SECONDS));
        let too_long = format!("shop request-timeout={}", MAX_SECONDS + 1);
        assert!(parse_daemon_process(&too_long).is_err());
    }

    #[test]
    fn words_split_like_apache() {
        assert_eq!(split_words("a  b\tc").unwrap(), ["a", "b", "c"]);
        assert_eq!(
            split_words(r#""a b" 'c d' "e\"f""#).unwrap(),
            ["a b", "c d", "e\"f"]
        );
        assert_eq!(split_words("   ").unwrap(), Vec::<String>::new());
        assert!(split_words("'open").is_err());
    }

    #[test]
    fn group_names() {
        assert!(check_group_name("shop-1.a_b").is_ok());
        assert!(check_group_name("").is_err());
        assert!(check_group_name("a/b").is_err());
        assert!(check_group_name(".hidden").is_err());
        assert!(check_group_name(&"x".repeat(65)).is_err());
    }
}
