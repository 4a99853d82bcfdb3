//! A consumer of a faulty transport: draws the faults for each delivery of the inner subscription.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use async_trait::async_trait;

use super::{Counters, FaultConfig};
use crate::transport::{Delivery, Subscription, TransportError};

/// SplitMix64: tiny, fast, and stable forever (unlike `StdRng`, whose algorithm may change).
pub(super) struct SplitMix64(pub(super) u64);

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

pub(super) struct FaultySubscription {
    pub(super) inner: Box<dyn Subscription>,
    pub(super) rng: SplitMix64,
    pub(super) config: FaultConfig,
    pub(super) counters: Arc<Counters>,
    pub(super) held: Option<Delivery>,
    pub(super) ready: VecDeque<Delivery>,
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
                && !delivery
                    .deliveries()
                    .exceeds(self.config.max_drops_per_message)
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
