//! The JSON line the load generator prints (DESIGN §6) and the fields the runs add to it.

use crate::recovery::Recovery;
use crate::runner::{Args, Stats};

/// The JSON line of DESIGN §6.
pub fn report(args: &Args, lib: Stats, commits: Option<f64>, baseline: Stats) -> serde_json::Value {
    let scheme = args.log.split("://").next().unwrap_or_default().to_owned();
    serde_json::json!({
        "log": scheme,
        "transport": shown(&args.transport),
        "sagas": args.sagas,
        "concurrency": args.concurrency,
        "steps": args.steps,
        "fail_at": args.fail_at,
        "batching": args.batching,
        "ping_after_idle_ms": args.ping_after_idle_ms,
        "sagas_per_sec": lib.json()["sagas_per_sec"],
        "p50_ms": lib.json()["p50_ms"],
        "p99_ms": lib.json()["p99_ms"],
        "commits_per_saga": commits.map(|c| (c * 100.0).round() / 100.0),
        "baseline": baseline.json(),
        "ratio": ((lib.sagas_per_sec / baseline.sagas_per_sec) * 1000.0).round() / 1000.0,
    })
}

#[cfg(any(feature = "sqlx", feature = "redis"))]
/// Adds every round's throughput (`--rounds`), library and baseline, so the medians can be checked.
pub fn add_rounds(line: &mut serde_json::Value, libs: &[Stats], baselines: &[Stats]) {
    let rates = |runs: &[Stats]| {
        runs.iter()
            .map(|r| r.sagas_per_sec.round())
            .collect::<Vec<_>>()
    };
    line["rounds"] = serde_json::json!({
        "library_sagas_per_sec": rates(libs),
        "baseline_sagas_per_sec": rates(baselines),
    });
}

/// Adds the recovery figures (`--recover N`): N sagas abandoned mid-saga, then `recover()`ed.
pub fn add_recovery(line: &mut serde_json::Value, n: usize, r: &Recovery, steady: Stats) {
    line["recovery"] = serde_json::json!({
        "sagas": n,
        "seconds": (r.seconds * 1000.0).round() / 1000.0,
        "sagas_per_sec": r.rate.round(),
        "ratio_to_steady": ((r.rate / steady.sagas_per_sec) * 1000.0).round() / 1000.0,
        "rss_bytes_per_in_flight_saga": r.bytes_per_saga.map(f64::round),
    });
}

/// A URL without its credentials, for the JSON line and errors.
pub fn shown(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((_, host)) => format!("{scheme}://***@{host}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}
