//! Counters of a [`RedisTransport`](crate::RedisTransport), for tests, metrics and the load generator.

use std::sync::atomic::{AtomicU64, Ordering};

/// What a [`RedisTransport`](crate::RedisTransport) (and its subscriptions) did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedisTransportStats {
    /// Messages added to a stream by `publish` (`XADD` answered with an id).
    pub published: u64,
    /// Messages `publish` dropped because no group was subscribed to the topic (no stream).
    pub unrouted: u64,
    /// Deliveries handed to subscriptions (reads and claims).
    pub delivered: u64,
    /// Entries taken over from other consumers by `XAUTOCLAIM`.
    pub claimed: u64,
    /// Deliveries acknowledged.
    pub acked: u64,
    /// Deliveries requeued (at once or with a delay).
    pub requeued: u64,
    /// Delayed entries moved back into their stream.
    pub moved: u64,
    /// Entries dead-lettered (by a consumer, the delivery limit, or because they did not decode).
    pub dead_lettered: u64,
    /// Entries removed by trimming.
    pub trimmed: u64,
    /// Times a publish found its stream at the bound and waited.
    pub full: u64,
    /// Connections a subscription (re)opened after losing one.
    pub reconnects: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) published: AtomicU64,
    pub(crate) unrouted: AtomicU64,
    pub(crate) delivered: AtomicU64,
    pub(crate) claimed: AtomicU64,
    pub(crate) acked: AtomicU64,
    pub(crate) requeued: AtomicU64,
    pub(crate) moved: AtomicU64,
    pub(crate) dead_lettered: AtomicU64,
    pub(crate) trimmed: AtomicU64,
    pub(crate) full: AtomicU64,
    pub(crate) reconnects: AtomicU64,
}

/// Adds `n` to `counter`.
pub(crate) fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

impl Counters {
    pub(crate) fn snapshot(&self) -> RedisTransportStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        RedisTransportStats {
            published: get(&self.published),
            unrouted: get(&self.unrouted),
            delivered: get(&self.delivered),
            claimed: get(&self.claimed),
            acked: get(&self.acked),
            requeued: get(&self.requeued),
            moved: get(&self.moved),
            dead_lettered: get(&self.dead_lettered),
            trimmed: get(&self.trimmed),
            full: get(&self.full),
            reconnects: get(&self.reconnects),
        }
    }
}
