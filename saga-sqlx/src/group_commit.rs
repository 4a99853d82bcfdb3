//! [`GroupCommitLog`]: a log wrapper that coalesces the writes of many concurrent sagas.

use std::sync::Arc;

use async_trait::async_trait;
use saga::log::{Append, ClaimRequest, Lease, ListQuery, NewSaga, SagaInstance, SagaSnapshot};
use saga::{LogError, SagaId, SagaLog};

use crate::batch::{append_via, coalescer, create_via, BatchWrite, Writes};
use crate::stats::SqlLogStats;

/// Settings of a [`GroupCommitLog`] (and of the logs' own batching,
/// [`SqlLogConfig::with_batching`](crate::SqlLogConfig::with_batching)): the core crate's
/// [`BatchingConfig`](saga::log::BatchingConfig).
pub type GroupCommitConfig = saga::log::BatchingConfig;

/// Wraps a SQL log so that `create` and `append` calls arriving concurrently from many sagas share one
/// transaction (one commit, one WAL flush) instead of one each. `load`, `claim` and `list` go straight to
/// the wrapped log.
///
/// Every log of this crate already does this by default
/// ([`SqlLogConfig::with_batching`](crate::SqlLogConfig::with_batching)); the wrapper is for a log
/// connected with [`without_batching`](crate::SqlLogConfig::without_batching), e.g. to batch one
/// executor's writes and not another's on the same pool. Wrapping a log that batches itself works, and
/// only adds a hop.
///
/// Batching is natural (a [`saga::log::Coalescer`]): a write that finds a writer lane free runs at
/// once, alone; writes that arrive while the lanes are busy go together in the next batch, up to
/// [`GroupCommitConfig::with_max_batch`]. So a lone saga pays no added latency and a busy executor
/// gets large batches. Each write keeps its own result: a conflict of one saga (its
/// `UPDATE ... WHERE version = ? AND fence = ?` matches no row) does not fail the others in the batch.
/// If the batch hits any other error, it is rolled back and its writes are retried one by one.
///
/// ```no_run
/// # #[cfg(feature = "sqlite")]
/// # async fn f() -> Result<(), saga_sqlx::Error> {
/// use std::sync::Arc;
/// use saga_sqlx::{GroupCommitConfig, GroupCommitLog, SqlLogConfig, SqliteSagaLog};
/// let config = SqlLogConfig::default().without_batching();
/// let log = SqliteSagaLog::connect("sqlite://sagas.db", config).await?;
/// let log: Arc<dyn saga::SagaLog> = Arc::new(GroupCommitLog::new(log, GroupCommitConfig::default()));
/// # Ok(()) }
/// ```
pub struct GroupCommitLog {
    inner: Arc<dyn BatchWrite>,
    writes: Writes,
}

impl std::fmt::Debug for GroupCommitLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupCommitLog")
            .field("writes", &self.writes)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl GroupCommitLog {
    /// Wraps `log` (a [`PostgresSagaLog`](crate::PostgresSagaLog),
    /// [`MySqlSagaLog`](crate::MySqlSagaLog) or [`SqliteSagaLog`](crate::SqliteSagaLog)). Spawns no
    /// task: batches run on the callers' tasks and, while writes queue up, on a task per lane.
    #[must_use]
    pub fn new<L: BatchWrite>(log: L, config: GroupCommitConfig) -> Self {
        let inner: Arc<dyn BatchWrite> = Arc::new(log);
        let writes = coalescer(Arc::clone(&inner), config);
        Self { inner, writes }
    }

    /// The wrapped log's counters (`commits` counts each batch once).
    #[must_use]
    pub fn stats(&self) -> SqlLogStats {
        self.inner.counters()
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl SagaLog for GroupCommitLog {
    async fn create(&self, saga: NewSaga) -> Result<Lease, LogError> {
        create_via(&self.writes, saga).await
    }

    async fn append(&self, append: Append<'_>) -> Result<u64, LogError> {
        append_via(&self.writes, &append).await
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
