//! A [`Transport`] wrapper that drops, duplicates, reorders and delays deliveries, deterministically from
//! a seed.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;

use crate::transport::{Delivery, Message, Subscription, Transport, TransportError};

/// Which faults a [`FaultyTransport`] injects, and how often (each rate is a probability per delivery).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FaultConfig {
    seed: u64,
    drop_rate: f64,
    duplicate_rate: f64,
    reorder_rate: f64,
    delay_rate: f64,
    max_delay: Duration,
    reorder_window: Duration,
    max_drops_per_message: u32,
}

impl Default for FaultConfig {
    /// No faults, seed 0, delays up to 10 ms, reorder window 5 ms, a message dropped at most 3 times.
    fn default() -> Self {
        Self {
            seed: 0,
            drop_rate: 0.0,
            duplicate_rate: 0.0,
            reorder_rate: 0.0,
            delay_rate: 0.0,
            max_delay: Duration::from_millis(10),
            reorder_window: Duration::from_millis(5),
            max_drops_per_message: 3,
        }
    }
}

impl FaultConfig {
    /// The seed: the same seed and the same sequence of deliveries give the same faults.
    #[must_use]
    pub const fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Probability that a delivery is dropped unsettled (so the inner transport redelivers it).
    #[must_use]
    pub fn with_drop_rate(mut self, rate: f64) -> Self {
        self.drop_rate = rate.clamp(0.0, 1.0);
        self
    }

    /// Probability that a delivery is also delivered a second time (the copy's settlement does nothing).
    #[must_use]
    pub fn with_duplicate_rate(mut self, rate: f64) -> Self {
        self.duplicate_rate = rate.clamp(0.0, 1.0);
        self
    }

    /// Probability that a delivery is held back and handed out after the next one (or after the reorder
    /// window if no other message arrives).
    #[must_use]
    pub fn with_reorder_rate(mut self, rate: f64) -> Self {
        self.reorder_rate = rate.clamp(0.0, 1.0);
        self
    }

    /// How long a held-back delivery waits for a later one to overtake it.
    #[must_use]
    pub const fn with_reorder_window(mut self, window: Duration) -> Self {
        self.reorder_window = window;
        self
    }

    /// Probability that a delivery is delayed, by up to `max` (use tokio's paused clock in tests).
    #[must_use]
    pub fn with_delay(mut self, rate: f64, max: Duration) -> Self {
        self.delay_rate = rate.clamp(0.0, 1.0);
        self.max_delay = max;
        self
    }

    /// A message already delivered this many times is never dropped again, so drops cannot push it over
    /// the inner transport's delivery limit.
    #[must_use]
    pub const fn with_max_drops_per_message(mut self, drops: u32) -> Self {
        self.max_drops_per_message = drops;
        self
    }
}

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
struct Counters {
    dropped: AtomicU64,
    duplicated: AtomicU64,
    reordered: AtomicU64,
    delayed: AtomicU64,
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
        let inner = self.inner.subscribe(topic, group).await?;
        Ok(Box::new(FaultySubscription {
            inner,
            rng: SplitMix64(seed),
            config: self.config.clone(),
            counters: Arc::clone(&self.counters),
            held: None,
            ready: VecDeque::new(),
        }))
    }

    fn max_message_size(&self) -> usize {
        self.inner.max_message_size()
    }
}

/// SplitMix64: tiny, fast, and stable forever (unlike `StdRng`, whose algorithm may change).
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    #[allow(clippy::cast_precision_loss)]
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

struct FaultySubscription {
    inner: Box<dyn Subscription>,
    rng: SplitMix64,
    config: FaultConfig,
    counters: Arc<Counters>,
    held: Option<Delivery>,
    ready: VecDeque<Delivery>,
}

#[async_trait]
impl Subscription for FaultySubscription {
    async fn next(&mut self) -> Option<Result<Delivery, TransportError>> {
        loop {
            if let Some(d) = self.ready.pop_front() {
                return Some(Ok(d));
            }
            let item = if self.held.is_some() {
                match tokio::time::timeout(self.config.reorder_window, self.inner.next()).await {
                    Ok(item) => item,
                    Err(_) => {
                        // Nothing overtook it in time: hand the held delivery out.
                        self.ready.extend(self.held.take());
                        continue;
                    }
                }
            } else {
                self.inner.next().await
            };
            let delivery = match item {
                Some(Ok(d)) => d,
                Some(Err(e)) => return Some(Err(e)),
                None => return self.held.take().map(Ok),
            };
            // Draw every decision up front so the random sequence does not depend on the branch taken.
            let (drop_p, dup_p, reorder_p, delay_p, delay_frac) = (
                self.rng.next_f64(),
                self.rng.next_f64(),
                self.rng.next_f64(),
                self.rng.next_f64(),
                self.rng.next_f64(),
            );
            if drop_p < self.config.drop_rate
                && delivery.deliveries() <= self.config.max_drops_per_message
            {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                drop(delivery); // unsettled: the inner transport delivers it again
                continue;
            }
            if delay_p < self.config.delay_rate {
                self.counters.delayed.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(self.config.max_delay.mul_f64(delay_frac)).await;
            }
            if dup_p < self.config.duplicate_rate {
                self.counters.duplicated.fetch_add(1, Ordering::Relaxed);
                let copy = Delivery::detached(delivery.message().clone(), delivery.deliveries());
                self.ready.push_back(copy);
            }
            if self.held.is_none() && reorder_p < self.config.reorder_rate {
                self.counters.reordered.fetch_add(1, Ordering::Relaxed);
                self.held = Some(delivery);
                continue;
            }
            // A held delivery goes out right after the one that overtook it.
            self.ready.extend(self.held.take());
            return Some(Ok(delivery));
        }
    }
}

#[cfg(test)]
mod tests {
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
        let mut sub = faulty.subscribe("t", "g").await.expect("subscribe");
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
