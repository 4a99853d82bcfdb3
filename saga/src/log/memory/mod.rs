//! The in-memory saga log: the fastest path, and the reference the conformance suite is written against.

mod claim;

use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use tokio::time::Instant;

use super::{
    now_ms, Append, ClaimBatch, ClaimRequest, ConflictKind, Lease, ListQuery, LogError, LogRecord,
    NewSaga, SagaInstance, SagaLog, SagaSnapshot, SagaState,
};
use crate::id::SagaId;
use crate::sharded::ShardedMap;

const SHARDS: usize = 64;

struct Entry {
    instance: SagaInstance,
    lease_until: Option<Instant>,
    records: Vec<LogRecord>,
}

impl Entry {
    fn lease_free_for(&self, owner: &str, now: Instant) -> bool {
        self.instance.owner.as_deref() == Some(owner)
            || self.lease_until.is_none_or(|until| until <= now)
    }
}

/// Counters kept by [`InMemoryLog`], e.g. for the load generator's commits-per-saga figure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct InMemoryLogStats {
    /// Successful `create` calls.
    pub creates: u64,
    /// Successful `append` calls (each one a "commit").
    pub appends: u64,
}

/// A [`SagaLog`] in process memory, sharded to keep many concurrent sagas from contending on one lock.
///
/// Durable only for the life of the process; use it for tests, benchmarks and sagas that need no crash
/// recovery. Lease expiry follows tokio's clock, so tests can drive it with `tokio::time::pause`.
pub struct InMemoryLog {
    map: ShardedMap<SagaId, Entry>,
    creates: AtomicU64,
    appends: AtomicU64,
    /// Wall-clock milliseconds and tokio instant at construction: record times are derived from tokio's
    /// clock (one clock read per call, and paused-clock tests see consistent times).
    epoch: (u64, Instant),
}

impl Default for InMemoryLog {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for InMemoryLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryLog")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl InMemoryLog {
    /// An empty log.
    #[must_use]
    pub fn new() -> Self {
        Self {
            map: ShardedMap::new(SHARDS),
            creates: AtomicU64::new(0),
            appends: AtomicU64::new(0),
            epoch: (now_ms(), Instant::now()),
        }
    }

    fn clock(&self) -> (Instant, u64) {
        let now = Instant::now();
        let since = now.saturating_duration_since(self.epoch.1).as_millis();
        let ms = self
            .epoch
            .0
            .saturating_add(u64::try_from(since).unwrap_or(u64::MAX));
        (now, ms)
    }

    /// Commit counters so far.
    #[must_use]
    pub fn stats(&self) -> InMemoryLogStats {
        InMemoryLogStats {
            creates: self.creates.load(Ordering::Relaxed),
            appends: self.appends.load(Ordering::Relaxed),
        }
    }
}

fn lease_deadline(now: Instant, ttl: std::time::Duration) -> Instant {
    now.checked_add(ttl).unwrap_or(now)
}

/// Records usually held per saga (start, a few steps, the end): one allocation for most sagas.
const RECORDS_HINT: usize = 6;

#[async_trait]
impl SagaLog for InMemoryLog {
    async fn create(&self, saga: NewSaga) -> Result<Lease, LogError> {
        let (instant, now) = self.clock();
        let mut shard = self.map.lock(&saga.id);
        let std::collections::hash_map::Entry::Vacant(slot) = shard.entry(saga.id) else {
            return Err(LogError::conflict(
                saga.id,
                ConflictKind::AlreadyExists,
                0,
                None,
            ));
        };
        let instance = SagaInstance::new(
            saga.id,
            saga.definition,
            saga.definition_version,
            SagaState::Running,
        )
        .with_owner(Some(saga.owner))
        .with_deadline_at_ms(saga.deadline_at_ms)
        .with_created_at_ms(now)
        .with_updated_at_ms(now);
        slot.insert(Entry {
            instance,
            lease_until: Some(lease_deadline(instant, saga.lease_ttl)),
            records: {
                let mut records = Vec::with_capacity(RECORDS_HINT);
                records.push(LogRecord {
                    seq: 1,
                    at_ms: now,
                    event: super::LogEvent::Started { data: saga.data },
                });
                records
            },
        });
        drop(shard);
        self.creates.fetch_add(1, Ordering::Relaxed);
        Ok(Lease { fence: 1 })
    }

    async fn append(&self, append: Append<'_>) -> Result<u64, LogError> {
        let (instant, now) = self.clock();
        let mut shard = self.map.lock(&append.id);
        let entry = shard
            .get_mut(&append.id)
            .ok_or(LogError::NotFound { saga_id: append.id })?;
        let inst = &mut entry.instance;
        let conflict =
            |kind| LogError::conflict(append.id, kind, append.expected_version, Some(inst.version));
        if inst.fence != append.lease.fence {
            return Err(conflict(ConflictKind::LeaseLost));
        }
        if inst.version != append.expected_version {
            return Err(conflict(ConflictKind::VersionMismatch));
        }
        if inst.state.is_terminal() {
            return Err(conflict(ConflictKind::Finished));
        }
        for event in append.events {
            inst.version += 1;
            entry.records.push(LogRecord {
                seq: inst.version,
                at_ms: now,
                event: event.clone(),
            });
        }
        inst.state = append.state;
        inst.updated_at_ms = now;
        if append.state.is_terminal() || append.state == SagaState::Stuck {
            inst.owner = None;
            entry.lease_until = None;
        } else {
            entry.lease_until = Some(lease_deadline(instant, append.lease_ttl));
        }
        let version = inst.version;
        drop(shard);
        self.appends.fetch_add(1, Ordering::Relaxed);
        Ok(version)
    }

    async fn load(&self, id: SagaId) -> Result<Option<SagaSnapshot>, LogError> {
        let shard = self.map.lock(&id);
        Ok(shard.get(&id).map(|e| SagaSnapshot {
            instance: e.instance.clone(),
            records: e.records.clone(),
        }))
    }

    async fn claim(&self, claim: ClaimRequest) -> Result<ClaimBatch, LogError> {
        Ok(self.claim_now(&claim))
    }

    async fn list(&self, query: ListQuery) -> Result<Vec<SagaInstance>, LogError> {
        let mut out: Vec<SagaInstance> = Vec::new();
        for shard in self.map.shards() {
            out.extend(
                shard
                    .values()
                    .filter(|e| {
                        query
                            .definition
                            .as_ref()
                            .is_none_or(|d| *d == e.instance.definition)
                            && (query.states.is_empty() || query.states.contains(&e.instance.state))
                    })
                    .map(|e| e.instance.clone()),
            );
        }
        out.sort_by_key(|i| i.id);
        out.truncate(query.limit);
        Ok(out)
    }
}
