//! A [`Transport`] wrapper that drops, duplicates, reorders and delays deliveries, deterministically from
//! a seed.

mod config;
mod subscription;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use parking_lot::Mutex;

pub use config::FaultConfig;
use subscription::{FaultySubscription, SplitMix64};

use crate::transport::{
    Capabilities, Message, SubscribeOptions, Subscription, Transport, TransportError,
};

/// Counters of the faults a [`FaultyTransport`] injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct FaultStats {
    /// Deliveries dropped unsettled.
    pub dropped: u64,
    /// Deliveries handed out twice.
    pub duplicated: u64,
    /// Deliveries held back behind a later one.
    pub reordered: u64,
    /// Deliveries delayed.
    pub delayed: u64,
}

#[derive(Default)]
pub(super) struct Counters {
    pub(super) dropped: AtomicU64,
    pub(super) duplicated: AtomicU64,
    pub(super) reordered: AtomicU64,
    pub(super) delayed: AtomicU64,
}

/// Wraps a transport and injects delivery faults: drop (with redelivery), duplicate, reorder, delay.
///
/// Faults are decided per subscription by a SplitMix64 generator seeded from the configured seed, the
/// topic, the group and the subscription's ordinal within that group, so a run with the same seed and the
/// same message sequence sees the same faults. Publishing is forwarded untouched.
pub struct FaultyTransport {
    inner: Arc<dyn Transport>,
    config: FaultConfig,
    counters: Arc<Counters>,
    ordinals: Mutex<HashMap<(String, String), u64>>,
}

impl std::fmt::Debug for FaultyTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultyTransport")
            .field("config", &self.config)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl FaultyTransport {
    /// Wraps `inner`.
    #[must_use]
    pub fn new(inner: Arc<dyn Transport>, config: FaultConfig) -> Self {
        Self {
            inner,
            config,
            counters: Arc::default(),
            ordinals: Mutex::new(HashMap::new()),
        }
    }

    /// The faults injected so far.
    #[must_use]
    pub fn stats(&self) -> FaultStats {
        let c = &self.counters;
        FaultStats {
            dropped: c.dropped.load(Ordering::Relaxed),
            duplicated: c.duplicated.load(Ordering::Relaxed),
            reordered: c.reordered.load(Ordering::Relaxed),
            delayed: c.delayed.load(Ordering::Relaxed),
        }
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl Transport for FaultyTransport {
    async fn publish(&self, topic: &str, message: Message) -> Result<(), TransportError> {
        self.inner.publish(topic, message).await
    }

    async fn subscribe(
        &self,
        topic: &str,
        group: &str,
        options: SubscribeOptions,
    ) -> Result<Box<dyn Subscription>, TransportError> {
        let ordinal = {
            let mut ordinals = self.ordinals.lock();
            let n = ordinals
                .entry((topic.to_owned(), group.to_owned()))
                .or_insert(0);
            *n += 1;
            *n
        };
        let mut seed = self.config.seed ^ ordinal.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        for b in topic.bytes().chain([0]).chain(group.bytes()) {
            seed = (seed ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        let inner = self.inner.subscribe(topic, group, options).await?;
        Ok(Box::new(FaultySubscription {
            inner,
            rng: SplitMix64(seed),
            config: self.config.clone(),
            counters: Arc::clone(&self.counters),
            held: None,
            ready: VecDeque::new(),
        }))
    }

    async fn delete_group(&self, topic: &str, group: &str) -> Result<(), TransportError> {
        self.inner.delete_group(topic, group).await
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
}

#[cfg(test)]
mod tests {
    use crate::transport::TransportExt as _;
    use std::time::Duration;

    use super::*;
    use crate::transport::{InProcTransport, MessageKind};

    async fn observe(seed: u64) -> (Vec<u8>, FaultStats) {
        let inner: Arc<dyn Transport> = Arc::new(InProcTransport::new());
        let faulty = FaultyTransport::new(
            inner,
            FaultConfig::default()
                .with_seed(seed)
                .with_drop_rate(0.2)
                .with_duplicate_rate(0.2)
                .with_reorder_rate(0.2)
                .with_delay(0.2, Duration::from_millis(3)),
        );
        let mut sub = faulty.subscribe_durable("t", "g").await.expect("subscribe");
        for i in 0..50u8 {
            faulty
                .publish("t", Message::new(MessageKind::Event, vec![i]))
                .await
                .expect("publish");
        }
        let mut seen = Vec::new();
        while let Ok(Some(item)) = tokio::time::timeout(Duration::from_secs(1), sub.next()).await {
            let d = item.expect("delivery");
            seen.push(d.message().payload[0]);
            d.ack().await.expect("ack");
        }
        (seen, faulty.stats())
    }

    #[tokio::test(start_paused = true)]
    async fn same_seed_same_faults() {
        let (a, stats_a) = observe(7).await;
        let (b, stats_b) = observe(7).await;
        assert_eq!(a, b);
        assert_eq!(stats_a, stats_b);
        assert!(stats_a.dropped > 0 && stats_a.duplicated > 0 && stats_a.reordered > 0);
        let mut unique = a.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique, (0..50).collect::<Vec<u8>>(), "nothing is lost");
        let (c, _) = observe(8).await;
        assert_ne!(a, c);
    }
}
