//! [`RedisSagaLog`]: the saga log on Redis.

mod claim;
pub(crate) mod codec;
mod connect;
mod defs;
mod instance;
mod keys;
mod list;
mod reply;
mod scripts;
mod write;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use saga::log::{
    Append, BatchRunner, ClaimBatch, ClaimRequest, Coalescer, Lease, ListQuery, NewSaga,
    OwnedAppend, SagaInstance, SagaSnapshot, WriteOp, WriteResult,
};
use saga::{LogError, SagaId, SagaLog};

use crate::config::RedisLogConfig;
use crate::secret::SecretUrl;
use crate::stats::RedisLogStats;

/// The longest lease and retention the scripts compute with (100 years): server time plus this stays
/// an exact integer in Lua's doubles.
const MAX_MS: u64 = 100 * 365 * 24 * 3600 * 1000;

/// Whole milliseconds of `d`, at most [`MAX_MS`].
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).min(MAX_MS)
}

/// A [`SagaLog`] on Redis (standalone, or a primary with replicas under Sentinel).
///
/// Every `create` and `append` is one Lua script (one round trip) that checks the version and the
/// fence and writes the records, the instance and the indexes atomically; lease times come from the
/// server's clock. Claims read candidates from per-definition indexes in id order and take each with a
/// check-and-take script, so two claimants never share a saga. See the [crate docs](crate) for the
/// key layout and what holds on Redis Cluster. Cheap to clone (the connection is shared).
///
/// Writes are batched by default ([`RedisLogConfig::with_batching`]): writes of concurrent sagas that
/// arrive while earlier ones are on the wire go to the server together as one pipeline.
#[derive(Clone)]
pub struct RedisSagaLog {
    inner: Arc<Inner>,
    /// The coalescer of `create`s and `append`s, unless batching is off.
    writes: Option<Coalescer<WriteOp, WriteResult>>,
}

/// Runs the batches of a log's coalescer: a batch of one as the plain write, more as one pipeline.
struct Writer(Arc<Inner>);

#[async_trait]
impl BatchRunner<WriteOp, WriteResult> for Writer {
    async fn run_batch(&self, mut ops: Vec<WriteOp>) -> Vec<WriteResult> {
        if ops.len() == 1 {
            if let Some(op) = ops.pop() {
                return vec![match op {
                    WriteOp::Create(s) => write::create(&self.0, s).await.map(|l| l.fence),
                    WriteOp::Append(a) => write::append(&self.0, &a.as_append()).await,
                }];
            }
        }
        write::write_batch(&self.0, ops).await
    }
}

/// What the clones of one log share.
struct Inner {
    conn: scripts::Conn,
    keys: keys::Keys,
    retention_ms: u64,
    defs: defs::Definitions,
    url: SecretUrl,
    config: RedisLogConfig,
}

impl std::fmt::Debug for RedisSagaLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSagaLog")
            .field("url", &self.inner.url)
            .field("key_prefix", &self.inner.keys.prefix())
            .field("shards", &self.inner.keys.shards())
            .field("retention", &self.inner.config.retention())
            .field("stats", &self.stats())
            .field("batching", &self.writes.as_ref().map(Coalescer::config))
            .finish_non_exhaustive()
    }
}

impl RedisSagaLog {
    /// The log over `inner`, batching its writes if its config says so.
    fn new(inner: Inner) -> Self {
        let inner = Arc::new(inner);
        let writes = inner
            .config
            .batching()
            .map(|b| Coalescer::new(Arc::new(Writer(Arc::clone(&inner))), b));
        Self { inner, writes }
    }

    /// Round-trip and script counters of this log (and its clones).
    #[must_use]
    pub fn stats(&self) -> RedisLogStats {
        self.inner.conn.counters.snapshot()
    }

    /// The key prefix.
    #[must_use]
    pub fn key_prefix(&self) -> &str {
        self.inner.keys.prefix()
    }

    /// The configuration the log was connected with.
    #[must_use]
    pub fn config(&self) -> &RedisLogConfig {
        &self.inner.config
    }
}

#[async_trait]
impl SagaLog for RedisSagaLog {
    async fn create(&self, saga: NewSaga) -> Result<Lease, LogError> {
        match &self.writes {
            Some(writes) => writes
                .submit(WriteOp::Create(saga))
                .await?
                .map(|fence| Lease { fence }),
            None => write::create(&self.inner, saga).await,
        }
    }

    async fn append(&self, append: Append<'_>) -> Result<u64, LogError> {
        match &self.writes {
            Some(writes) => {
                let op = WriteOp::Append(OwnedAppend::from_append(&append));
                writes.submit(op).await?
            }
            None => write::append(&self.inner, &append).await,
        }
    }

    async fn load(&self, id: SagaId) -> Result<Option<SagaSnapshot>, LogError> {
        claim::load(&self.inner, id).await
    }

    async fn claim(&self, claim: ClaimRequest) -> Result<ClaimBatch, LogError> {
        claim::claim(&self.inner, &claim).await
    }

    async fn list(&self, query: ListQuery) -> Result<Vec<SagaInstance>, LogError> {
        list::list(&self.inner, &query).await
    }
}
