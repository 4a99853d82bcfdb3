//! Delays without plugins: a requeue with a delay goes to one of 32 delay levels, queues whose
//! messages expire after `2^k` ms (k = 0..=31) and then return to their group's queue by
//! dead-lettering. A delay is rounded **up** to the next level (never early, at most twice as long);
//! one longer than the top level (about 24.8 days) also carries the time it is due, and goes round the
//! top level again until then.
//!
//! Every message in one level waits the same time, so the level's queue expires them in order: no
//! message waits behind a longer one (the head-of-line problem of per-message TTLs in one queue).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The highest delay level: `2^31` ms.
pub(crate) const MAX_LEVEL: u32 = 31;

/// The level whose wait is the smallest power of two of milliseconds at least `delay` long (capped at
/// [`MAX_LEVEL`]).
pub(crate) fn level(delay: Duration) -> u32 {
    let ms = delay.as_millis().max(1);
    let level = u128::BITS - (ms - 1).leading_zeros();
    level.min(MAX_LEVEL)
}

/// The wait of `level`.
pub(crate) fn wait(level: u32) -> Duration {
    Duration::from_millis(1 << level)
}

/// Unix time in milliseconds.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// When a message delayed by `delay` from now is due, if the top level is too short for it.
pub(crate) fn due_after_top_level(delay: Duration) -> Option<u64> {
    (delay > wait(MAX_LEVEL)).then(|| {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        now_ms().saturating_add(ms)
    })
}

/// How long a message due at `due_ms` still has to wait (`None` if it is due).
pub(crate) fn remaining(due_ms: u64) -> Option<Duration> {
    let now = now_ms();
    (due_ms > now).then(|| Duration::from_millis(due_ms - now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_round_up_to_a_power_of_two() {
        assert_eq!(level(Duration::ZERO), 0);
        assert_eq!(level(Duration::from_millis(1)), 0);
        assert_eq!(level(Duration::from_millis(2)), 1);
        assert_eq!(level(Duration::from_millis(3)), 2);
        assert_eq!(level(Duration::from_millis(100)), 7);
        assert_eq!(level(Duration::from_millis(1024)), 10);
        assert_eq!(level(Duration::from_millis(1025)), 11);
        for ms in [1, 5, 99, 100, 1000, 65_537] {
            let d = Duration::from_millis(ms);
            assert!(wait(level(d)) >= d && wait(level(d)) < d * 2 + Duration::from_millis(1));
        }
        assert_eq!(level(Duration::from_secs(100 * 24 * 3600)), MAX_LEVEL);
    }

    #[test]
    fn very_long_delays_carry_their_due_time() {
        assert!(due_after_top_level(Duration::from_secs(3600)).is_none());
        let due = due_after_top_level(Duration::from_secs(30 * 24 * 3600)).expect("beyond the top");
        assert!(remaining(due).is_some_and(|r| r > wait(MAX_LEVEL)));
        assert!(remaining(now_ms() - 1).is_none());
    }
}
