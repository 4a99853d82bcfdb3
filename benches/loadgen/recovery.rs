//! Recovery after a crash (`--recover N`): N sagas abandoned mid-saga, then `recover()`ed by a
//! restarted executor, and the memory they held while in flight.

use std::sync::Arc;
use std::time::Instant;

use saga::{Executor, SagaLog};

use crate::runner::{definition, definition_with, Args, Hang};

/// Recovery after a crash: `n` sagas are started and parked in step 2 (all in flight at once), their
/// drivers are aborted as if the process were killed (every transition so far is in the log), and a
/// restarted executor with the same owner id times `recover()`.
pub async fn run_recovery(args: &Args, n: usize, log: Arc<dyn SagaLog>) -> Recovery {
    let config = saga::ExecutorConfig::default()
        .with_owner_id("loadgen-recovery")
        .with_recovery_concurrency(args.concurrency);
    let hang = Hang {
        step: 2.min(args.steps),
        arrived: Arc::default(),
        all_arrived: Arc::default(),
        expected: n,
    };
    let crashing = Executor::with_config(
        definition_with(args.steps, args.fail_at, Some(hang.clone())),
        Arc::clone(&log),
        config.clone(),
    );
    use futures::StreamExt;
    let rss_before = rss_bytes();
    let handles: Vec<_> = futures::stream::iter(0..n)
        .map(|_| crashing.start(()))
        .buffer_unordered(args.concurrency)
        .map(|h| h.expect("start"))
        .collect()
        .await;
    hang.all_arrived.notified().await;
    let bytes_per_saga = match (rss_before, rss_bytes()) {
        (Some(before), Some(after)) => Some(after.saturating_sub(before) as f64 / n as f64),
        _ => None,
    };
    for h in &handles {
        h.abort();
    }
    for h in handles {
        let _ = h.outcome().await;
    }
    drop(crashing);

    let restarted = Executor::with_config(definition(args.steps, args.fail_at), log, config);
    let start = Instant::now();
    let report = restarted.recover().await.expect("recover");
    let secs = start.elapsed().as_secs_f64();
    let want = if args.fail_at.is_some() {
        report.compensated
    } else {
        report.completed
    };
    assert_eq!(
        want, n,
        "every abandoned saga reached its terminal state: {report:?}"
    );
    Recovery {
        rate: n as f64 / secs,
        seconds: secs,
        bytes_per_saga,
    }
}

/// What [`run_recovery`] measured.
pub struct Recovery {
    /// Sagas recovered per second.
    pub rate: f64,
    pub seconds: f64,
    /// The process's resident memory growth while the sagas were all in flight, per saga (executor
    /// task, saga state, the log's share, the handle): an upper bound of the memory one in-flight saga
    /// costs, since the allocator may also keep what it held before.
    pub bytes_per_saga: Option<f64>,
}

/// The process's resident set size (Linux `/proc/self/statm`), `None` elsewhere.
fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}
