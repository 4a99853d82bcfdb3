//! The write operations a [`GroupCommitLog`](crate::GroupCommitLog) coalesces, and the crate-internal
//! trait each backend implements to run many of them in one transaction.

use std::time::Duration;

use async_trait::async_trait;
use saga::log::{Append, Lease, NewSaga};
use saga::{LogError, LogEvent, SagaId, SagaLog, SagaState};

use crate::stats::SqlLogStats;

/// An [`Append`] with owned events, so it can cross a channel.
#[derive(Debug, Clone)]
pub struct OwnedAppend {
    pub(crate) id: SagaId,
    pub(crate) expected_version: u64,
    pub(crate) lease: Lease,
    pub(crate) state: SagaState,
    pub(crate) events: Vec<LogEvent>,
    pub(crate) lease_ttl: Duration,
}

impl OwnedAppend {
    /// Copies `a` (its events included).
    #[must_use]
    pub fn from_append(a: &Append<'_>) -> Self {
        Self {
            id: a.id,
            expected_version: a.expected_version,
            lease: a.lease,
            state: a.state,
            events: a.events.to_vec(),
            lease_ttl: a.lease_ttl,
        }
    }

    pub(crate) fn as_append(&self) -> Append<'_> {
        Append::new(
            self.id,
            self.expected_version,
            self.lease,
            self.state,
            &self.events,
            self.lease_ttl,
        )
    }
}

/// One write of a batch.
#[derive(Debug, Clone)]
pub enum WriteOp {
    /// A `create`.
    Create(NewSaga),
    /// An `append`.
    Append(OwnedAppend),
}

impl WriteOp {
    pub(crate) fn saga_id(&self) -> SagaId {
        match self {
            Self::Create(s) => s.id,
            Self::Append(a) => a.id,
        }
    }
}

/// What a successful write returns: the fence of a created saga's lease, or an append's new version.
pub type WriteResult = Result<u64, LogError>;

/// A log that can run several writes in one transaction: what [`GroupCommitLog`](crate::GroupCommitLog)
/// needs from the log it wraps. Implemented by every log of this crate.
#[async_trait]
pub trait BatchWrite: SagaLog {
    /// Runs `ops` in one transaction where possible and returns one result per op, in order. A conflict
    /// of one op does not fail the others.
    async fn write_batch(&self, ops: &[WriteOp]) -> Vec<WriteResult>;

    /// The log's counters.
    fn counters(&self) -> SqlLogStats;
}

/// Results for a batch whose transaction failed as a whole with a transient error: every op gets it.
pub(crate) fn all_failed(n: usize, backend: &'static str, e: &sqlx::Error) -> Vec<WriteResult> {
    let transient = crate::error::is_transient(e);
    (0..n)
        .map(|_| {
            Err(LogError::Backend {
                backend,
                message: e.to_string(),
                transient,
                source: None,
            })
        })
        .collect()
}

/// Each op on its own (its own transaction), e.g. after a batch statement the server refused.
pub(crate) async fn one_by_one<L: SagaLog + ?Sized>(log: &L, ops: &[WriteOp]) -> Vec<WriteResult> {
    let mut out = Vec::with_capacity(ops.len());
    for op in ops {
        out.push(match op {
            WriteOp::Create(s) => log.create(s.clone()).await.map(|l| l.fence),
            WriteOp::Append(a) => log.append(a.as_append()).await,
        });
    }
    out
}

/// Whether a per-op error poisons the batch transaction (anything but a conflict or not-found).
#[cfg_attr(not(any(feature = "mysql", feature = "sqlite")), allow(dead_code))]
pub(crate) fn poisons(r: &WriteResult) -> bool {
    matches!(r, Err(LogError::Backend { .. } | LogError::Corrupt { .. }))
}

/// Commits the transaction of a batch whose ops all ran: on success counts the commit and the
/// successful ops and returns `results`; otherwise every op gets the commit's error.
#[cfg_attr(not(any(feature = "mysql", feature = "sqlite")), allow(dead_code))]
pub(crate) async fn commit<DB: sqlx::Database>(
    tx: sqlx::Transaction<'_, DB>,
    backend: &'static str,
    counters: &crate::stats::Counters,
    ops: &[WriteOp],
    results: Vec<WriteResult>,
) -> Vec<WriteResult> {
    if let Err(e) = tx.commit().await {
        return all_failed(ops.len(), backend, &e);
    }
    counters.commit();
    count(counters, ops, &results);
    results
}

/// Counts the successful ops of a committed batch.
pub(crate) fn count(counters: &crate::stats::Counters, ops: &[WriteOp], results: &[WriteResult]) {
    for (op, r) in ops.iter().zip(results) {
        match (op, r) {
            (WriteOp::Create(_), Ok(_)) => counters.created(),
            (WriteOp::Append(_), Ok(_)) => counters.appended(),
            _ => {}
        }
    }
}

/// Splits `ops` into consecutive runs in which no saga appears twice, so each run can go to the database
/// as one set-based statement (a saga's second write in a batch must see its first).
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) fn unique_runs(ops: &[WriteOp]) -> Vec<std::ops::Range<usize>> {
    let mut runs = Vec::new();
    let mut seen = std::collections::HashSet::with_capacity(ops.len());
    let mut start = 0;
    for (i, op) in ops.iter().enumerate() {
        if !seen.insert(op.saga_id()) {
            runs.push(start..i);
            seen.clear();
            seen.insert(op.saga_id());
            start = i;
        }
    }
    if start < ops.len() {
        runs.push(start..ops.len());
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;
    use saga::log::NewSaga;

    fn create(id: SagaId) -> WriteOp {
        WriteOp::Create(NewSaga::new(
            id,
            "d",
            1,
            bytes::Bytes::new(),
            "o",
            Duration::from_secs(1),
        ))
    }

    #[test]
    fn runs_split_at_a_repeated_saga() {
        let (a, b) = (SagaId::new(), SagaId::new());
        assert!(unique_runs(&[]).is_empty());
        assert_eq!(unique_runs(&[create(a), create(b)]), vec![0..2]);
        assert_eq!(
            unique_runs(&[create(a), create(b), create(a), create(a)]),
            vec![0..2, 2..3, 3..4]
        );
    }
}
