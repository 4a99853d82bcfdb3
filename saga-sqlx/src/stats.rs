//! Commit counters, e.g. for the load generator's commits-per-saga figure on SQLite (which has no
//! server-side counter).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Counters of one SQL log (shared by its clones and by a [`GroupCommitLog`](crate::GroupCommitLog)
/// wrapping it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SqlLogStats {
    /// Transactions this log committed (a single-statement write counts as one).
    pub commits: u64,
    /// Sagas created.
    pub creates: u64,
    /// Successful appends.
    pub appends: u64,
    /// Sagas taken over by claims.
    pub claimed: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    commits: AtomicU64,
    creates: AtomicU64,
    appends: AtomicU64,
    claimed: AtomicU64,
}

impl Counters {
    pub(crate) fn new() -> Arc<Self> {
        Arc::default()
    }

    pub(crate) fn commit(&self) {
        self.commits.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn created(&self) {
        self.creates.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn appended(&self) {
        self.appends.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn claimed(&self, n: usize) {
        self.claimed
            .fetch_add(u64::try_from(n).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> SqlLogStats {
        SqlLogStats {
            commits: self.commits.load(Ordering::Relaxed),
            creates: self.creates.load(Ordering::Relaxed),
            appends: self.appends.load(Ordering::Relaxed),
            claimed: self.claimed.load(Ordering::Relaxed),
        }
    }
}
