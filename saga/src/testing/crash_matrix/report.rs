//! What a crash matrix run counted.

use std::fmt;
use std::time::Duration;

/// The figures of one [`CrashMatrix`](super::CrashMatrix) run. Every count but `runs`, `crashes`,
/// `re_executions` and `seeds` must be zero for the saga contract to hold.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CrashReport {
    /// Seeds run.
    pub seeds: u64,
    /// Cases checked (uninterrupted reference runs and crashed runs).
    pub runs: u64,
    /// Runs that crashed as injected.
    pub crashes: u64,
    /// Sagas not in the state of the uninterrupted run, or effects missing.
    pub lost: u64,
    /// Effects applied under more than one idempotency key (an effect that would land twice).
    pub doubled: u64,
    /// Runs whose compensations were not in reverse step order, or with a forward step after one.
    pub out_of_order: u64,
    /// Runs with effects the path does not have, or activity from a saga that was never created.
    pub unexpected: u64,
    /// Executions repeated under the same key (at-least-once delivery, absorbed by the inbox).
    pub re_executions: u64,
    /// Problems found in total: every count above, plus runs that did not crash, failed recoveries
    /// and failed loads.
    pub errors: u64,
    /// The first problems, described.
    pub problems: Vec<String>,
    /// Wall time of the run.
    pub duration: Duration,
}

impl CrashReport {
    const SHOWN: usize = 20;

    pub(super) fn fail(&mut self, problem: String) {
        if self.problems.len() < Self::SHOWN {
            self.problems.push(problem);
        }
        self.errors += 1;
    }

    pub(super) fn merge(&mut self, other: Self) {
        self.runs += other.runs;
        self.crashes += other.crashes;
        self.lost += other.lost;
        self.doubled += other.doubled;
        self.out_of_order += other.out_of_order;
        self.unexpected += other.unexpected;
        self.re_executions += other.re_executions;
        self.errors += other.errors;
        let room = Self::SHOWN.saturating_sub(self.problems.len());
        self.problems.extend(other.problems.into_iter().take(room));
    }

    /// Whether nothing went wrong.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.errors == 0
    }

    /// Panics, listing the first problems, unless the run was clean.
    ///
    /// # Panics
    /// When any problem was found.
    pub fn assert_clean(&self) {
        assert!(
            self.is_clean(),
            "crash matrix: {self}\nfirst problems:\n{}",
            self.problems.join("\n")
        );
    }
}

impl fmt::Display for CrashReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seeds={} runs={} crashes={} lost={} doubled={} out_of_order={} unexpected={} \
             errors={} re_executions={} duration_ms={}",
            self.seeds,
            self.runs,
            self.crashes,
            self.lost,
            self.doubled,
            self.out_of_order,
            self.unexpected,
            self.errors,
            self.re_executions,
            self.duration.as_millis()
        )
    }
}
