//! Which faults a faulty transport injects.

use std::time::Duration;

/// Which faults a [`FaultyTransport`](super::FaultyTransport) injects, and how often (each rate is a probability per delivery).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FaultConfig {
    pub(super) seed: u64,
    pub(super) drop_rate: f64,
    pub(super) duplicate_rate: f64,
    pub(super) reorder_rate: f64,
    pub(super) delay_rate: f64,
    pub(super) max_delay: Duration,
    pub(super) reorder_window: Duration,
    pub(super) max_drops_per_message: u32,
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
