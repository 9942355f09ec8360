//! A CI-sized chaos run: 20 s of load against a daemon group with every
//! kind of fault, and the three zeros: no failed request that was not in
//! flight at a fault, no corrupted body, no Apache child crash.
//!
//! Needs the release build (`cargo build --release --workspace`); the
//! artifacts are found beside this test binary.

use std::time::Duration;

use rustgi_chaos::chaos::{self, FaultKind, Options};
use rustgi_chaos::site::Artifacts;

#[test]
fn twenty_seconds_of_chaos_fail_only_requests_in_flight_at_faults() {
    let artifacts = Artifacts::locate(None).unwrap_or_else(|e| panic!("{e}"));
    let opts = Options {
        duration: Duration::from_secs(20),
        clients: 4,
        seed: 20,
        kill_every: Duration::from_secs(3),
        fault_every: Duration::from_millis(1500),
        graceful_every: Duration::from_secs(5),
        replace_every: Duration::from_secs(7),
        max_body: 32 * 1024,
        maximum_requests: 100,
        ..Options::default()
    };
    let report = chaos::run(&artifacts, &opts).unwrap_or_else(|e| panic!("{e}"));
    eprintln!("{}\n{}", report.markdown(), report.problems());
    assert!(
        report.requests > 200,
        "too little load: {} requests",
        report.requests
    );
    for kind in [FaultKind::Sigkill, FaultKind::Graceful, FaultKind::Replace] {
        assert!(
            report.faults.get(&kind).is_some_and(|t| t.injected > 0),
            "no {kind:?} injected in 20 s"
        );
    }
    let endpoint_faults: usize = FaultKind::ENDPOINTS
        .iter()
        .filter_map(|k| report.faults.get(k))
        .map(|t| t.injected)
        .sum();
    assert!(
        endpoint_faults >= 5,
        "only {endpoint_faults} fault endpoint calls"
    );
    assert!(
        report.unexplained.is_empty(),
        "failures not in flight at a fault:\n{}",
        report.problems()
    );
    assert!(
        report.corrupt.is_empty(),
        "body corruption:\n{}",
        report.problems()
    );
    assert!(
        report.child_crashes.is_empty() && report.parent_alive,
        "Apache crashed:\n{}",
        report.problems()
    );
}
