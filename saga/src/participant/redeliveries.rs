//! Delivery counts the participant keeps itself, for transports that cannot say how often a message was
//! delivered ([`CountPrecision::Unknown`](crate::transport::CountPrecision) or `AtLeast`).

use std::collections::HashMap;

use parking_lot::Mutex;

use crate::transport::{DeliveryCount, MessageId};

/// Counts deliveries per message id seen by this process, in two generations of bounded size: when the
/// young one fills up, the old one is dropped. A message redelivered after many others may thus start
/// counting again (fewer than its true count), never more; the broker's own limit
/// ([`Capabilities::native_dead_letter`](crate::transport::Capabilities)) is the backstop.
#[derive(Debug)]
pub(super) struct LocalCounts {
    generations: Mutex<[HashMap<MessageId, u32>; 2]>,
    per_generation: usize,
}

impl LocalCounts {
    pub(super) fn new(per_generation: usize) -> Self {
        Self {
            generations: Mutex::new([HashMap::new(), HashMap::new()]),
            per_generation: per_generation.max(1),
        }
    }

    /// Records a delivery of `id` and returns the better of the transport's count and our own.
    pub(super) fn observe(&self, id: MessageId, reported: DeliveryCount) -> DeliveryCount {
        if let DeliveryCount::Exact(_) = reported {
            return reported;
        }
        let mut g = self.generations.lock();
        let seen = g[0].remove(&id).or_else(|| g[1].remove(&id)).unwrap_or(0);
        let ours = seen.saturating_add(1);
        if g[0].len() >= self.per_generation {
            g.swap(0, 1);
            g[0].clear();
        }
        g[0].insert(id, ours);
        drop(g);
        let best = ours.max(reported.at_least());
        DeliveryCount::AtLeast(best)
    }

    /// Forgets `id` once its delivery is settled for good (acked or dead-lettered).
    pub(super) fn settled(&self, id: MessageId) {
        let mut g = self.generations.lock();
        g[0].remove(&id);
        g[1].remove(&id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_counts_are_counted_locally_and_exact_ones_are_trusted() {
        let counts = LocalCounts::new(4);
        let id = MessageId::new();
        assert_eq!(
            counts.observe(id, DeliveryCount::Unknown),
            DeliveryCount::AtLeast(1)
        );
        assert_eq!(
            counts.observe(id, DeliveryCount::Unknown),
            DeliveryCount::AtLeast(2)
        );
        assert_eq!(
            counts.observe(id, DeliveryCount::AtLeast(5)),
            DeliveryCount::AtLeast(5)
        );
        assert_eq!(
            counts.observe(id, DeliveryCount::Exact(2)),
            DeliveryCount::Exact(2)
        );
        counts.settled(id);
        assert_eq!(
            counts.observe(id, DeliveryCount::Unknown),
            DeliveryCount::AtLeast(1)
        );
    }

    #[test]
    fn memory_stays_bounded() {
        let counts = LocalCounts::new(8);
        for _ in 0..1000 {
            counts.observe(MessageId::new(), DeliveryCount::Unknown);
        }
        let g = counts.generations.lock();
        assert!(g[0].len() + g[1].len() <= 16);
    }
}
