//! Batched writes: the crate-internal trait each backend implements to run many writes in one
//! transaction ([`BatchWrite`]), the runner a [`Coalescer`] drives it through, and the helpers the
//! backends share. [`WriteOp`], [`OwnedAppend`] and [`WriteResult`] are the core crate's.

use std::sync::Arc;

use async_trait::async_trait;
use saga::log::{Append, BatchRunner, BatchingConfig, Coalescer, Lease, NewSaga};
pub use saga::log::{OwnedAppend, WriteOp, WriteResult};
use saga::{LogError, SagaLog};

use crate::stats::SqlLogStats;

/// The coalescer of a log's writes.
pub(crate) type Writes = Coalescer<WriteOp, WriteResult>;

/// Runs the batches of a [`Coalescer`] on a log: a batch of one is the log's own `create` or
/// `append` (so a lone write costs exactly what it costs unbatched), a larger one is
/// [`BatchWrite::write_batch`].
struct Direct<L: ?Sized>(Arc<L>);

#[async_trait]
impl<L: BatchWrite + ?Sized> BatchRunner<WriteOp, WriteResult> for Direct<L> {
    async fn run_batch(&self, mut ops: Vec<WriteOp>) -> Vec<WriteResult> {
        if ops.len() == 1 {
            if let Some(op) = ops.pop() {
                return vec![match op {
                    WriteOp::Create(s) => self.0.create(s).await.map(|l| l.fence),
                    WriteOp::Append(a) => self.0.append(a.as_append()).await,
                }];
            }
        }
        self.0.write_batch(&ops).await
    }
}

/// A coalescer writing through `log` (which should not batch itself).
pub(crate) fn coalescer<L: BatchWrite + ?Sized>(log: Arc<L>, config: BatchingConfig) -> Writes {
    Coalescer::new(Arc::new(Direct(log)), config)
}

/// `create` through a coalescer.
pub(crate) async fn create_via(writes: &Writes, saga: NewSaga) -> Result<Lease, LogError> {
    writes
        .submit(WriteOp::Create(saga))
        .await?
        .map(|fence| Lease { fence })
}

/// `append` through a coalescer.
pub(crate) async fn append_via(writes: &Writes, append: &Append<'_>) -> Result<u64, LogError> {
    writes
        .submit(WriteOp::Append(OwnedAppend::from_append(append)))
        .await?
}

/// A log that can run several writes in one transaction: what the logs' own batching and a
/// [`GroupCommitLog`](crate::GroupCommitLog) need from a log. Implemented by every log of this crate.
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
    use std::time::Duration;

    use super::*;
    use saga::SagaId;

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
