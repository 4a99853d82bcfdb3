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
    Append, ClaimBatch, ClaimRequest, Lease, ListQuery, NewSaga, SagaInstance, SagaSnapshot,
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
#[derive(Clone)]
pub struct RedisSagaLog {
    inner: Arc<Inner>,
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
            .finish_non_exhaustive()
    }
}

impl RedisSagaLog {
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
        write::create(&self.inner, saga).await
    }

    async fn append(&self, append: Append<'_>) -> Result<u64, LogError> {
        write::append(&self.inner, &append).await
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
