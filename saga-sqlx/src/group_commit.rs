//! [`GroupCommitLog`]: coalesces the writes of many concurrent sagas into one transaction.

use std::sync::Arc;

use async_trait::async_trait;
use saga::log::{Append, ClaimRequest, Lease, ListQuery, NewSaga, SagaInstance, SagaSnapshot};
use saga::{LogError, SagaId, SagaLog};
use tokio::sync::{mpsc, oneshot, Mutex};

use crate::batch::{BatchWrite, OwnedAppend, WriteOp, WriteResult};
use crate::stats::SqlLogStats;

/// Settings of a [`GroupCommitLog`].
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct GroupCommitConfig {
    max_batch: usize,
    writers: usize,
    queue: usize,
}

impl Default for GroupCommitConfig {
    /// Batches of up to 64 writes, 2 writer tasks, a queue of 1024 requests.
    fn default() -> Self {
        Self {
            max_batch: 64,
            writers: 2,
            queue: 1024,
        }
    }
}

impl GroupCommitConfig {
    /// The most writes one transaction carries (at least 1).
    #[must_use]
    pub fn with_max_batch(mut self, max: usize) -> Self {
        self.max_batch = max.max(1);
        self
    }

    /// How many writer tasks (and so connections) commit batches concurrently (at least 1). SQLite has
    /// one writer connection whatever this says.
    #[must_use]
    pub fn with_writers(mut self, writers: usize) -> Self {
        self.writers = writers.max(1);
        self
    }

    /// Capacity of the request queue; callers wait when it is full (at least 1).
    #[must_use]
    pub fn with_queue(mut self, capacity: usize) -> Self {
        self.queue = capacity.max(1);
        self
    }
}

struct Request {
    op: WriteOp,
    reply: oneshot::Sender<WriteResult>,
}

/// Wraps a SQL log so that `create` and `append` calls arriving concurrently from many sagas share one
/// transaction (one commit, one WAL flush) instead of one each. `load`, `claim` and `list` go straight to
/// the wrapped log.
///
/// Writer tasks take the first waiting request, then every request already queued (up to
/// [`GroupCommitConfig::with_max_batch`]) without waiting for more, so a lone saga pays no added latency
/// and a busy executor gets large batches. Each write keeps its own result: a conflict of one saga (its
/// `UPDATE ... WHERE version = ? AND fence = ?` matches no row) does not fail the others in the batch.
/// If the batch hits any other error, it is rolled back and its writes are retried one by one.
///
/// Must be created inside a tokio runtime (it spawns the writers); they stop when the log is dropped.
///
/// ```no_run
/// # #[cfg(feature = "sqlite")]
/// # async fn f() -> Result<(), saga_sqlx::Error> {
/// use std::sync::Arc;
/// use saga_sqlx::{GroupCommitConfig, GroupCommitLog, SqlLogConfig, SqliteSagaLog};
/// let log = SqliteSagaLog::connect("sqlite://sagas.db", SqlLogConfig::default()).await?;
/// let log: Arc<dyn saga::SagaLog> = Arc::new(GroupCommitLog::new(log, GroupCommitConfig::default()));
/// # Ok(()) }
/// ```
pub struct GroupCommitLog {
    inner: Arc<dyn BatchWrite>,
    tx: mpsc::Sender<Request>,
    config: GroupCommitConfig,
}

impl std::fmt::Debug for GroupCommitLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommitLog")
            .field("config", &self.config)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl GroupCommitLog {
    /// Wraps `log` (a [`PostgresSagaLog`](crate::PostgresSagaLog),
    /// [`MySqlSagaLog`](crate::MySqlSagaLog) or [`SqliteSagaLog`](crate::SqliteSagaLog)) and starts its
    /// writer tasks.
    #[must_use]
    pub fn new<L: BatchWrite>(log: L, config: GroupCommitConfig) -> Self {
        let inner: Arc<dyn BatchWrite> = Arc::new(log);
        let (tx, rx) = mpsc::channel(config.queue);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..config.writers {
            tokio::spawn(writer(
                Arc::clone(&inner),
                Arc::clone(&rx),
                config.max_batch,
            ));
        }
        Self { inner, tx, config }
    }

    /// The wrapped log's counters (`commits` counts each batch once).
    #[must_use]
    pub fn stats(&self) -> SqlLogStats {
        self.inner.counters()
    }

    async fn submit(&self, op: WriteOp) -> WriteResult {
        let id = op.saga_id();
        let (reply, rx) = oneshot::channel();
        let stopped = || LogError::Backend {
            backend: "group-commit",
            message: format!("group commit writer stopped before writing saga {id}"),
            transient: true,
            source: None,
        };
        self.tx
            .send(Request { op, reply })
            .await
            .map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }
}

async fn writer(
    log: Arc<dyn BatchWrite>,
    rx: Arc<Mutex<mpsc::Receiver<Request>>>,
    max_batch: usize,
) {
    let mut batch: Vec<Request> = Vec::with_capacity(max_batch);
    loop {
        {
            let mut rx = rx.lock().await;
            let Some(first) = rx.recv().await else {
                return;
            };
            batch.push(first);
            while batch.len() < max_batch {
                match rx.try_recv() {
                    Ok(r) => batch.push(r),
                    Err(_) => break,
                }
            }
        }
        let ops: Vec<WriteOp> = batch.iter().map(|r| r.op.clone()).collect();
        let results = log.write_batch(&ops).await;
        for (request, result) in batch.drain(..).zip(results) {
            // The caller may have gone away (its saga task was aborted); the write stands.
            drop(request.reply.send(result));
        }
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl SagaLog for GroupCommitLog {
    async fn create(&self, saga: NewSaga) -> Result<Lease, LogError> {
        self.submit(WriteOp::Create(saga))
            .await
            .map(|fence| Lease { fence })
    }

    async fn append(&self, append: Append<'_>) -> Result<u64, LogError> {
        self.submit(WriteOp::Append(OwnedAppend::from_append(&append)))
            .await
    }

    async fn load(&self, id: SagaId) -> Result<Option<SagaSnapshot>, LogError> {
        self.inner.load(id).await
    }

    async fn claim(&self, claim: ClaimRequest) -> Result<saga::log::ClaimBatch, LogError> {
        self.inner.claim(claim).await
    }

    async fn list(&self, query: ListQuery) -> Result<Vec<SagaInstance>, LogError> {
        self.inner.list(query).await
    }
}
