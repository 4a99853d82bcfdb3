//! The crash matrix: a saga of `n` steps (4 by default) is crashed at every durable write, before the
//! write and after it but before it returns, on its success path and on every "step i fails" path, for
//! many seeds (each seed picks how often every step and compensation fails transiently first). After
//! each crash a new executor over the same log recovers the saga, and the matrix checks what the saga
//! contract promises: the saga ends in the state of an uninterrupted run (none lost), every effect is
//! applied once (the inbox absorbs a re-execution, and a re-execution carries the same idempotency key,
//! so no effect lands twice), and compensations run in reverse order with no forward step after them.
//!
//! Every backend runs the same matrix against its own log:
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use saga::testing::crash_matrix::CrashMatrix;
//! let report = CrashMatrix::new().with_seeds(2).run(Arc::new(saga::InMemoryLog::new())).await;
//! report.assert_clean();
//! assert!(report.runs > 100);
//! # });
//! ```

mod case;
mod report;
mod scripted;

use std::sync::Arc;
use std::time::Instant;

use crate::log::SagaLog;

pub use report::CrashReport;
pub use scripted::CrashPath;

/// Configuration of a crash matrix run; see the [module docs](self).
#[derive(Debug, Clone)]
#[must_use]
pub struct CrashMatrix {
    steps: usize,
    seeds: u64,
    first_seed: u64,
    concurrency: usize,
}

impl Default for CrashMatrix {
    /// 4 steps, 1 seed, starting at seed 0, two seeds at a time.
    fn default() -> Self {
        Self {
            steps: 4,
            seeds: 1,
            first_seed: 0,
            concurrency: 2,
        }
    }
}

impl CrashMatrix {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Steps of the saga (at least 1).
    pub fn with_steps(mut self, steps: usize) -> Self {
        self.steps = steps.max(1);
        self
    }

    /// How many seeds to run.
    pub fn with_seeds(mut self, seeds: u64) -> Self {
        self.seeds = seeds;
        self
    }

    /// The first seed (seeds `first..first + seeds` run).
    pub fn with_first_seed(mut self, first: u64) -> Self {
        self.first_seed = first;
        self
    }

    /// How many seeds run at once, each on a task of its own (at least 1).
    pub fn with_concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// The paths every seed runs: success, then "step i fails" for every step.
    #[must_use]
    pub fn paths(&self) -> Vec<CrashPath> {
        std::iter::once(CrashPath::Success)
            .chain((0..self.steps).map(CrashPath::Fails))
            .collect()
    }

    /// Runs the matrix against `log`; each case uses its own saga id and definition name, so the log
    /// may be shared with other tests.
    pub async fn run(&self, log: Arc<dyn SagaLog>) -> CrashReport {
        self.run_with(|| Arc::clone(&log)).await
    }

    /// Runs the matrix on a log from `new_log` for every seed (a fresh in-memory log per seed keeps
    /// a log that scans on recovery from growing with the run). Call it inside a tokio runtime.
    pub async fn run_with(&self, mut new_log: impl FnMut() -> Arc<dyn SagaLog>) -> CrashReport {
        let started = Instant::now();
        let mut report = CrashReport::default();
        let mut running = tokio::task::JoinSet::new();
        for seed in self.first_seed..self.first_seed + self.seeds {
            if running.len() >= self.concurrency {
                report.merge(joined(running.join_next().await));
            }
            let (log, steps, paths) = (new_log(), self.steps, self.paths());
            running.spawn(async move {
                let mut report = CrashReport::default();
                for path in paths {
                    case::run_seed_path(&log, steps, seed, path, &mut report).await;
                }
                report
            });
        }
        while let Some(done) = running.join_next().await {
            report.merge(joined(Some(done)));
        }
        report.seeds = self.seeds;
        report.duration = started.elapsed();
        report
    }
}

fn joined(done: Option<Result<CrashReport, tokio::task::JoinError>>) -> CrashReport {
    match done {
        Some(Ok(report)) => report,
        Some(Err(e)) => {
            let mut report = CrashReport::default();
            report.fail(format!("a seed's task failed: {e}"));
            report
        }
        None => CrashReport::default(),
    }
}
