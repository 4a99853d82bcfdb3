//! The rolling failure-rate window: a ring of time buckets, each one atomic word.
//!
//! A bucket packs `tag | calls | failures` into a `u64`, where `tag` is the low bits of the bucket's
//! sequence number (`now / bucket_length`). A bucket whose tag is not the one expected for its slot is
//! stale and counts as empty, so the ring never needs a sweeper and recording a call is a single
//! compare-and-swap. Counts saturate at about a million calls per bucket; the rate then reflects the
//! first million calls of that bucket. A bucket left untouched for exactly 2^24 bucket lengths would
//! alias; with the default 1 s buckets that takes half a year of total silence.

use super::super::sync::{AtomicU64, Ordering};

const BUCKETS: u64 = 10;
const COUNT_BITS: u32 = 20;
const COUNT_MAX: u64 = (1 << COUNT_BITS) - 1;
const TAG_MASK: u64 = (1 << (64 - 2 * COUNT_BITS)) - 1;

#[derive(Debug)]
pub(crate) struct Window {
    buckets: Box<[AtomicU64]>,
    bucket_nanos: u64,
}

fn pack(tag: u64, calls: u64, failures: u64) -> u64 {
    (tag << (2 * COUNT_BITS)) | (calls << COUNT_BITS) | failures
}

fn unpack(word: u64) -> (u64, u64, u64) {
    (
        word >> (2 * COUNT_BITS),
        (word >> COUNT_BITS) & COUNT_MAX,
        word & COUNT_MAX,
    )
}

impl Window {
    pub(crate) fn new(length_nanos: u64) -> Self {
        Self {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            bucket_nanos: (length_nanos / BUCKETS).max(1),
        }
    }

    fn bucket(&self, index: u64) -> &AtomicU64 {
        // `index % BUCKETS` is below 10, so the conversion and the indexing cannot fail.
        &self.buckets[usize::try_from(index % BUCKETS).unwrap_or_default()]
    }

    /// Counts one call at time `now` (nanoseconds on the breaker's clock).
    pub(crate) fn record(&self, now: u64, failed: bool) {
        let index = now / self.bucket_nanos;
        let tag = index & TAG_MASK;
        let bucket = self.bucket(index);
        let mut current = bucket.load(Ordering::Relaxed);
        loop {
            let (found, calls, failures) = unpack(current);
            let (calls, failures) = if found == tag {
                (calls, failures)
            } else {
                (0, 0)
            };
            if calls == COUNT_MAX {
                return;
            }
            let next = pack(tag, calls + 1, failures + u64::from(failed));
            match bucket.compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(actual) => current = actual,
            }
        }
    }

    /// `(calls, failures)` over the window ending at `now`.
    pub(crate) fn totals(&self, now: u64) -> (u64, u64) {
        let index = now / self.bucket_nanos;
        (0..BUCKETS.min(index + 1))
            .map(|back| index - back)
            .fold((0, 0), |(calls, failures), i| {
                let (tag, c, f) = unpack(self.bucket(i).load(Ordering::Relaxed));
                if tag == i & TAG_MASK {
                    (calls + c, failures + f)
                } else {
                    (calls, failures)
                }
            })
    }

    /// Whether the failure rate at `now` reaches `rate` with at least `minimum_calls` calls.
    pub(crate) fn exceeds(&self, now: u64, rate: f64, minimum_calls: u32) -> bool {
        let (calls, failures) = self.totals(now);
        #[allow(clippy::cast_precision_loss)] // counts stay below 2^24: exact in an f64
        let exceeded = failures as f64 >= rate * calls as f64;
        calls >= u64::from(minimum_calls) && exceeded
    }

    /// Empties every bucket (when the breaker closes).
    pub(crate) fn reset(&self) {
        for bucket in &*self.buckets {
            bucket.store(0, Ordering::Relaxed);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;

    #[test]
    fn counts_within_the_window_and_forgets_old_buckets() {
        let w = Window::new(10 * SECOND);
        w.record(0, true);
        w.record(SECOND / 2, false);
        w.record(3 * SECOND, true);
        assert_eq!(w.totals(3 * SECOND), (3, 2));
        assert_eq!(w.totals(10 * SECOND), (1, 1), "bucket 0 left the window");
        assert_eq!(w.totals(20 * SECOND), (0, 0));
        assert!(!w.exceeds(3 * SECOND, 0.5, 4));
        assert!(w.exceeds(3 * SECOND, 0.5, 3));
    }

    #[test]
    fn a_reused_slot_starts_from_zero() {
        let w = Window::new(10 * SECOND);
        w.record(0, true);
        w.record(10 * SECOND, false);
        assert_eq!(w.totals(10 * SECOND), (1, 0));
        w.reset();
        assert_eq!(w.totals(10 * SECOND), (0, 0));
    }
}
