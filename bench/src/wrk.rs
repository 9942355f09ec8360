//! Runs wrk and reads its `--latency` report.

use std::process::Command;
use std::time::Duration;

/// What one wrk run measured.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WrkResult {
    pub requests_per_sec: f64,
    pub requests: u64,
    /// Latency percentiles.
    pub p50: Duration,
    pub p99: Duration,
    /// Responses other than 2xx or 3xx.
    pub non_2xx: u64,
    /// Connect, read, write errors and timeouts.
    pub socket_errors: u64,
}

/// Runs `wrk -t THREADS -c CONNS -d SECSs --latency URL`.
pub fn run(url: &str, conns: u32, threads: u32, secs: u32) -> Result<WrkResult, String> {
    let threads = threads.min(conns).max(1);
    let out = Command::new("wrk")
        .arg(format!("-t{threads}"))
        .arg(format!("-c{conns}"))
        .arg(format!("-d{secs}s"))
        .arg("--timeout")
        .arg("10s")
        .arg("--latency")
        .arg(url)
        .output()
        .map_err(|e| format!("cannot run wrk: {e} (bench/run installs it)"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "wrk {url} failed ({}): {stdout}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    parse(&stdout).ok_or_else(|| format!("cannot read wrk's report:\n{stdout}"))
}

/// `123.45us`, `1.20ms`, `2.00s`, `1.5m` as a duration.
fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (num, unit) = text.split_at(split);
    let num: f64 = num.parse().ok()?;
    let secs = match unit {
        "us" => num / 1e6,
        "ms" => num / 1e3,
        "s" => num,
        "m" => num * 60.0,
        "h" => num * 3600.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(secs))
}

/// Reads wrk's report; `None` when it lacks requests/s or the percentiles.
pub fn parse(report: &str) -> Option<WrkResult> {
    let mut r = WrkResult::default();
    let (mut rps, mut p50, mut p99) = (None, None, None);
    for line in report.lines() {
        let line = line.trim();
        let words: Vec<&str> = line.split_whitespace().collect();
        if let Some(v) = line.strip_prefix("Requests/sec:") {
            rps = v.trim().parse().ok();
        } else if words.len() == 2 && words[0] == "50%" {
            p50 = parse_duration(words[1]);
        } else if words.len() == 2 && words[0] == "99%" {
            p99 = parse_duration(words[1]);
        } else if let Some(v) = line.strip_prefix("Non-2xx or 3xx responses:") {
            r.non_2xx = v.trim().parse().unwrap_or(0);
        } else if let Some(v) = line.strip_prefix("Socket errors:") {
            // connect 0, read 0, write 0, timeout 0
            r.socket_errors = v
                .split(',')
                .filter_map(|part| part.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum();
        } else if words.len() > 2 && words[1] == "requests" && words[2] == "in" {
            r.requests = words[0].parse().unwrap_or(0);
        }
    }
    r.requests_per_sec = rps?;
    r.p50 = p50?;
    r.p99 = p99?;
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = "\
Running 5s test @ http://127.0.0.1:8080/limit
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   420.10us  300.00us  12.34ms   95.00%
    Req/Sec    19.50k     1.20k   22.00k    70.00%
  Latency Distribution
     50%  380.00us
     75%  450.00us
     90%  600.00us
     99%    1.50ms
  194000 requests in 5.00s, 30.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:  38800.12
Transfer/sec:      6.00MB
";

    #[test]
    fn reads_the_report() {
        let r = parse(REPORT).unwrap();
        assert!((r.requests_per_sec - 38800.12).abs() < 1e-6);
        assert_eq!(r.requests, 194000);
        assert_eq!(r.p50, Duration::from_micros(380));
        assert_eq!(r.p99, Duration::from_micros(1500));
        assert_eq!(r.non_2xx, 4);
        assert_eq!(r.socket_errors, 3);
        assert!(parse("Requests/sec: 1\n").is_none());
        assert_eq!(parse_duration("2.00s"), Some(Duration::from_secs(2)));
    }
}
