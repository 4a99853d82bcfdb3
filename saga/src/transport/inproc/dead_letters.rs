//! The in-process transport's record of dead letters: the most recent ones, a bounded number of them.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::transport::Message;

/// A message that was dead-lettered, as recorded by
/// [`InProcTransport::dead_letters`](super::InProcTransport::dead_letters).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DeadLetter {
    /// The topic it was published to.
    pub topic: Arc<str>,
    /// The group that gave up on it.
    pub group: Arc<str>,
    /// The message (with the [`DEAD_LETTER_REASON`](crate::transport::DEAD_LETTER_REASON) header added).
    pub message: Message,
    /// Why (at most [`MAX_BOUNDED_LEN`](crate::transport::MAX_BOUNDED_LEN) bytes).
    pub reason: String,
    /// How often it had been delivered.
    pub deliveries: u32,
}

/// The last `capacity` dead letters, oldest first, each behind an `Arc` so reading them copies
/// pointers, not messages; older ones are evicted and counted.
pub(super) struct DeadLetters {
    capacity: usize,
    kept: Mutex<VecDeque<Arc<DeadLetter>>>,
    evicted: AtomicU64,
}

impl DeadLetters {
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            kept: Mutex::new(VecDeque::with_capacity(capacity.min(1024))),
            evicted: AtomicU64::new(0),
        }
    }

    /// Records `letter`, evicting the oldest one if the record is full.
    pub(super) fn push(&self, letter: DeadLetter) {
        if self.capacity == 0 {
            self.evicted.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let letter = Arc::new(letter);
        let evicted = {
            let mut kept = self.kept.lock();
            let evicted = if kept.len() >= self.capacity {
                kept.pop_front()
            } else {
                None
            };
            kept.push_back(letter);
            evicted
        };
        if evicted.is_some() {
            self.evicted.fetch_add(1, Ordering::Relaxed);
        }
        // The evicted letter (a whole message) is freed here, outside the lock.
        drop(evicted);
    }

    /// The newest `n` kept dead letters, oldest first.
    pub(super) fn recent(&self, n: usize) -> Vec<Arc<DeadLetter>> {
        let kept = self.kept.lock();
        let skip = kept.len().saturating_sub(n);
        kept.iter().skip(skip).cloned().collect()
    }

    /// How many dead letters were evicted (or, with capacity 0, never kept).
    pub(super) fn evicted(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }
}
