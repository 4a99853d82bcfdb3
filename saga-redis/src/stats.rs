//! Round-trip and script counters, e.g. for the load generator's commits-per-saga figure.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Counters of one [`RedisSagaLog`](crate::RedisSagaLog), shared by its clones.
///
/// Every script runs atomically on the server, so a *write* (a `create` or `append` script that
/// changed the saga) is this log's unit of commit, and costs one round trip: a happy 3-step saga is
/// 4 writes (its create and one append per step, the last one carrying the end).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisLogStats {
    /// Requests sent to the server (a pipeline of many commands counts once).
    pub round_trips: u64,
    /// Lua scripts run (`EVALSHA`, each also counted when it is re-sent after a `NOSCRIPT`).
    pub script_calls: u64,
    /// Scripts that wrote a saga: successful `create`s and `append`s.
    pub writes: u64,
    /// Sagas created.
    pub creates: u64,
    /// Successful appends.
    pub appends: u64,
    /// Sagas taken over by claims.
    pub claimed: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    round_trips: AtomicU64,
    script_calls: AtomicU64,
    creates: AtomicU64,
    appends: AtomicU64,
    claimed: AtomicU64,
}

fn add(counter: &AtomicU64, n: usize) {
    counter.fetch_add(u64::try_from(n).unwrap_or(u64::MAX), Ordering::Relaxed);
}

impl Counters {
    pub(crate) fn new() -> Arc<Self> {
        Arc::default()
    }

    /// One request carrying `scripts` script calls.
    pub(crate) fn round_trip(&self, scripts: usize) {
        add(&self.round_trips, 1);
        add(&self.script_calls, scripts);
    }

    pub(crate) fn created(&self) {
        add(&self.creates, 1);
    }

    pub(crate) fn appended(&self) {
        add(&self.appends, 1);
    }

    pub(crate) fn claimed(&self, n: usize) {
        add(&self.claimed, n);
    }

    pub(crate) fn snapshot(&self) -> RedisLogStats {
        let creates = self.creates.load(Ordering::Relaxed);
        let appends = self.appends.load(Ordering::Relaxed);
        RedisLogStats {
            round_trips: self.round_trips.load(Ordering::Relaxed),
            script_calls: self.script_calls.load(Ordering::Relaxed),
            writes: creates.saturating_add(appends),
            creates,
            appends,
            claimed: self.claimed.load(Ordering::Relaxed),
        }
    }
}
