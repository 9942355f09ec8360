//! `rustgi status URL`: fetch the status page of a server (`URL?json`,
//! served by `SetHandler rustgi-status`) and print it as a table.
//!
//! The JSON document:
//!
//! ```json
//! {"groups": [{"name": "shop",
//!              "processes": [{"pid": 4242, "user": "shop", "uptime_s": 3720,
//!                             "requests": 10230, "in_flight": 1, "rss_bytes": 24536000}],
//!              "queue": 0,
//!              "restarts": [{"at": 1735689600, "pid": 4100,
//!                            "reason": "recycling: 10000 requests served (maximum-requests)"}]}]}
//! ```
//!
//! `http://` URLs are fetched directly; `https://` ones with `curl`.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use super::args::{Arg, Args, no_value};

/// How long fetching the page may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The options of `status`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct StatusOptions {
    pub url: String,
    /// Print the JSON document as it came.
    pub json: bool,
    /// Accept any certificate (https).
    pub insecure: bool,
    /// The Host header to send, when not the URL's.
    pub host: Option<String>,
}

/// Parses the arguments of `status`.
pub fn parse_status(items: &[String]) -> Result<StatusOptions, String> {
    let mut o = StatusOptions::default();
    let mut url = None;
    let mut args = Args::new(items);
    while let Some(arg) = args.next() {
        match arg {
            Arg::Option(n, inline) if n == "--json" => {
                no_value(&n, inline)?;
                o.json = true;
            }
            Arg::Option(n, inline) if n == "--insecure" || n == "-k" => {
                no_value(&n, inline)?;
                o.insecure = true;
            }
            Arg::Option(n, inline) if n == "--host" => {
                let name = args.value(&n, inline)?;
                if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    return Err(format!("status: --host '{name}' is not a host name"));
                }
                o.host = Some(name);
            }
            Arg::Option(n, _) => return Err(format!("status: unknown option {n}")),
            Arg::Positional(p) if url.is_none() => url = Some(p),
            Arg::Positional(p) => return Err(format!("status: unexpected argument '{p}'")),
        }
    }
    o.url = url.ok_or("status: the URL of the status page is missing")?;
    Ok(o)
}

/// `url` with the `json` query argument added.
pub fn json_url(url: &str) -> String {
    let (base, fragment) = url.split_once('#').unwrap_or((url, ""));
    let _ = fragment;
    if base.contains('?') {
        if base.ends_with('?') || base.ends_with('&') {
            format!("{base}json")
        } else {
            format!("{base}&json")
        }
    } else {
        format!("{base}?json")
    }
}

/// An `http://` URL's parts: host (as written, brackets kept), port and the
/// path with its query.
pub fn split_http_url(url: &str) -> Result<(String, u16, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("'{url}' is not an http:// URL"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => match rest.find('?') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        },
    };
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_owned()
    };
    let (host, port) = if let Some(end) = authority.strip_prefix('[').and_then(|a| a.find(']')) {
        let host = &authority[..end + 2];
        let port = &authority[end + 2..];
        (host, port.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() || host.contains('@') {
        return Err(format!("'{url}' has no usable host"));
    }
    let port = match port {
        None | Some("") => 80,
        Some(p) => p
            .parse()
            .map_err(|_| format!("'{url}': '{p}' is not a port"))?,
    };
    Ok((host.to_owned(), port, path))
}

/// Fetches `url` (http), sending `host` as the Host header when given, and
/// returns the body of a 200 response.
pub fn http_get(url: &str, host_override: Option<&str>) -> Result<String, String> {
    let (host, port, path) = split_http_url(url)?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<_> = (bare, port)
        .to_socket_addrs()
        .map_err(|e| format!("{host}: {e}"))?
        .collect();
    let mut last = None;
    let mut stream = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, TIMEOUT) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    let mut s = stream.ok_or_else(|| match last {
        Some(e) => format!("cannot connect to {host}:{port}: {e}"),
        None => format!("{host} has no address"),
    })?;
    s.set_read_timeout(Some(TIMEOUT)).ok();
    s.set_write_timeout(Some(TIMEOUT)).ok();
    let host_header = match host_override {
        Some(name) => name.to_owned(),
        None if port == 80 => host.clone(),
        None => format!("{host}:{port}"),
    };
    // HTTP/1.0: the body ends when the connection does (never chunked).
    let request = format!(
        "GET {path} HTTP/1.0\r\nHost: {host_header}\r\nAccept: application/json\r\n\
         User-Agent: rustgi-status\r\nConnection: close\r\n\r\n"
    );
    s.write_all(request.as_bytes())
        .map_err(|e| format!("{url}: {e}"))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| format!("{url}: {e}"))?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("{url}: not an HTTP response"))?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let status_line = head.lines().next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let _version = parts.next();
    let code = parts.next().unwrap_or("");
    if code != "200" {
        return Err(format!(
            "{url} answered {}",
            status_line.split_once(' ').map_or(status_line, |(_, s)| s)
        ));
    }
    Ok(String::from_utf8_lossy(&raw[split + 4..]).into_owned())
}

/// Fetches `url` with curl (https).
fn curl_get(url: &str, insecure: bool, host: Option<&str>) -> Result<String, String> {
    let mut cmd = Command::new("curl");
    cmd.args(["-fsS", "--max-time", "10", "-H", "Accept: application/json"]);
    if insecure {
        cmd.arg("-k");
    }
    if let Some(name) = host {
        cmd.args(["-H", &format!("Host: {name}")]);
    }
    let out = cmd
        .arg(url)
        .output()
        .map_err(|e| format!("cannot run curl for {url}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "curl {url}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `rustgi status`.
pub fn status(o: StatusOptions) -> Result<(), String> {
    let url = json_url(&o.url);
    let body = if url.starts_with("https://") {
        curl_get(&url, o.insecure, o.host.as_deref())?
    } else {
        http_get(&url, o.host.as_deref())?
    };
    let doc: Value = serde_json::from_str(&body).map_err(|e| {
        let start: String = body.chars().take(200).collect();
        format!("{url} did not answer a status document ({e}): {start}")
    })?;
    if o.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).unwrap_or_else(|_| body.clone())
        );
    } else {
        print!("{}", render(&doc)?);
    }
    Ok(())
}

/// `1h02m`-style durations.
pub fn format_uptime(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "-".to_owned();
    }
    let s = seconds as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86400, s % 86400 / 3600),
    }
}

/// `23.4 MiB`-style sizes.
pub fn format_bytes(bytes: f64) -> String {
    if !bytes.is_finite() || bytes < 0.0 {
        return "-".to_owned();
    }
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024.0 {
        return format!("{} B", bytes as u64);
    }
    let mut v = bytes / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// A Unix time as `YYYY-MM-DD HH:MM:SS` (UTC).
pub fn format_unix_time(t: i64) -> String {
    let days = t.div_euclid(86400);
    let secs = t.rem_euclid(86400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn number(v: &Value, format: impl Fn(f64) -> String) -> String {
    v.as_f64().map_or_else(|| text(v), format)
}

/// Lays `rows` out in columns under `header`, two spaces apart; the
/// columns in `right` are aligned right.
pub fn table(header: &[&str], rows: &[Vec<String>], right: &[usize], indent: &str) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut l = String::from(indent);
        for (i, cell) in cells.iter().enumerate() {
            let w = widths[i];
            let last = i + 1 == cells.len();
            if right.contains(&i) {
                l.push_str(&format!("{cell:>w$}"));
            } else if last {
                l.push_str(cell);
            } else {
                l.push_str(&format!("{cell:<w$}"));
            }
            if !last {
                l.push_str("  ");
            }
        }
        l.truncate(l.trim_end().len());
        l.push('\n');
        l
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// The status document as text: per group a line, a table of its
/// processes and its recent restarts.
pub fn render(doc: &Value) -> Result<String, String> {
    let groups = doc["groups"]
        .as_array()
        .ok_or("the status document has no \"groups\" list")?;
    if groups.is_empty() {
        return Ok("no daemon process groups\n".to_owned());
    }
    let mut out = String::new();
    for (i, g) in groups.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let empty = Vec::new();
        let processes = g["processes"].as_array().unwrap_or(&empty);
        let restarts = g["restarts"].as_array().unwrap_or(&empty);
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let queue = if g["queue"].is_null() {
            "queue unknown".to_owned()
        } else {
            format!("{} queued", text(&g["queue"]))
        };
        out.push_str(&format!(
            "group {}: {}, {queue}, {}\n",
            text(&g["name"]),
            plural(processes.len(), "process", "processes"),
            plural(restarts.len(), "restart", "restarts"),
        ));
        let rows: Vec<Vec<String>> = processes
            .iter()
            .map(|p| {
                let state = match (&p["state"], p["reason"].as_str()) {
                    (Value::Null, _) => String::new(),
                    (state, Some(reason)) if !reason.is_empty() => {
                        format!("{} ({reason})", text(state))
                    }
                    (state, _) => text(state),
                };
                vec![
                    text(&p["pid"]),
                    text(&p["user"]),
                    number(&p["uptime_s"], format_uptime),
                    text(&p["requests"]),
                    text(&p["in_flight"]),
                    number(&p["rss_bytes"], format_bytes),
                    state,
                ]
            })
            .collect();
        if !rows.is_empty() {
            // The STATE column only when the page reports states.
            let with_state = processes.iter().any(|p| !p["state"].is_null());
            let columns = if with_state { 7 } else { 6 };
            let rows: Vec<Vec<String>> = rows
                .into_iter()
                .map(|mut r| {
                    r.truncate(columns);
                    r
                })
                .collect();
            out.push_str(&table(
                &[
                    "PID",
                    "USER",
                    "UPTIME",
                    "REQUESTS",
                    "IN FLIGHT",
                    "RSS",
                    "STATE",
                ][..columns],
                &rows,
                &[0, 2, 3, 4, 5],
                "  ",
            ));
        }
        if !restarts.is_empty() {
            out.push_str("  restarts:\n");
            let rows: Vec<Vec<String>> = restarts
                .iter()
                .map(|r| {
                    let at = match &r["at"] {
                        Value::Number(n) => n
                            .as_i64()
                            .or_else(|| n.as_f64().map(|f| f as i64))
                            .map_or_else(|| n.to_string(), format_unix_time),
                        other => text(other),
                    };
                    vec![at, format!("pid {}", text(&r["pid"])), text(&r["reason"])]
                })
                .collect();
            // No column names: the widths come from the rows alone, and
            // the header line (empty) is dropped.
            let table = table(&["", "", ""], &rows, &[], "    ");
            out.extend(table.lines().skip(1).map(|l| format!("{l}\n")));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(json_url("http://h/s"), "http://h/s?json");
        assert_eq!(json_url("http://h/s?x=1"), "http://h/s?x=1&json");
        assert_eq!(json_url("http://h/s?"), "http://h/s?json");
        assert_eq!(
            split_http_url("http://127.0.0.1:8000/status?json").unwrap(),
            ("127.0.0.1".to_owned(), 8000, "/status?json".to_owned())
        );
        assert_eq!(
            split_http_url("http://localhost").unwrap(),
            ("localhost".to_owned(), 80, "/".to_owned())
        );
        assert_eq!(
            split_http_url("http://[::1]:81?json").unwrap(),
            ("[::1]".to_owned(), 81, "/?json".to_owned())
        );
        assert!(split_http_url("ftp://x").is_err());
        assert!(split_http_url("http://x:y/").is_err());
        assert!(split_http_url("http:///").is_err());
    }

    #[test]
    fn formats() {
        assert_eq!(format_uptime(42.9), "42s");
        assert_eq!(format_uptime(303.0), "5m03s");
        assert_eq!(format_uptime(3720.0), "1h02m");
        assert_eq!(format_uptime(2.0 * 86400.0 + 3600.0), "2d01h");
        assert_eq!(format_bytes(512.0), "512 B");
        assert_eq!(format_bytes(24_536_000.0), "23.4 MiB");
        assert_eq!(format_bytes(3.0 * 1024.0 * 1024.0 * 1024.0), "3.0 GiB");
        assert_eq!(format_unix_time(0), "1970-01-01 00:00:00");
        assert_eq!(format_unix_time(1_735_689_600), "2025-01-01 00:00:00");
        assert_eq!(format_unix_time(951_782_400 + 3661), "2000-02-29 01:01:01");
    }

    #[test]
    fn renders_groups() {
        let doc: Value = serde_json::from_str(
            r#"{"groups":[
                {"name":"shop","queue":2,
                 "processes":[
                    {"pid":4242,"user":"shop","uptime_s":3720,"requests":10230,"in_flight":1,"rss_bytes":24536000,"state":"serving","reason":null},
                    {"pid":77,"user":"shop","uptime_s":5,"requests":3,"in_flight":0,"rss_bytes":1048576,"state":"recycling","reason":"maximum-requests"}],
                 "restarts":[{"at":1735689600,"pid":4100,"reason":"recycling: 10000 requests served (maximum-requests)"}]},
                {"name":"blog","queue":0,"processes":[],"restarts":[]}]}"#,
        )
        .unwrap();
        let text = render(&doc).unwrap();
        assert_eq!(
            text,
            "group shop: 2 processes, 2 queued, 1 restart\n\
             \x20  PID  USER  UPTIME  REQUESTS  IN FLIGHT       RSS  STATE\n\
             \x20 4242  shop   1h02m     10230          1  23.4 MiB  serving\n\
             \x20   77  shop      5s         3          0   1.0 MiB  recycling (maximum-requests)\n\
             \x20 restarts:\n\
             \x20   2025-01-01 00:00:00  pid 4100  recycling: 10000 requests served (maximum-requests)\n\
             \n\
             group blog: 0 processes, 0 queued, 0 restarts\n"
        );
        assert_eq!(
            render(&serde_json::json!({"groups": []})).unwrap(),
            "no daemon process groups\n"
        );
        assert!(render(&serde_json::json!({"x": 1})).is_err());
    }

    #[test]
    fn tolerates_missing_and_odd_fields() {
        let doc = serde_json::json!({"groups":[{"name":"g","processes":[{"pid":1}],
            "restarts":[{"at":"yesterday","reason":"crash"}]}]});
        let text = render(&doc).unwrap();
        assert!(
            text.contains("group g: 1 process, queue unknown, 1 restart"),
            "{text}"
        );
        assert!(text.contains("yesterday  pid -  crash"), "{text}");
    }

    #[test]
    fn options() {
        let args = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let o = parse_status(&args(&["http://x/s", "--json", "-k"])).unwrap();
        assert_eq!(o.url, "http://x/s");
        assert!(o.json && o.insecure);
        assert!(parse_status(&args(&[])).is_err());
        assert!(parse_status(&args(&["a", "b"])).is_err());
    }
}
