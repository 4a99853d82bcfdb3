//! How big a fault scenario runs: small in the normal test run, full size behind an opt-in switch.

/// The size of a fault scenario: the number in the environment variable `var` if it is set and
/// parses; else `long` when `SAGA_LONG_FAULTS=1` (the runs behind the figures in
/// `docs/reliability.md`); else `default` (what `cargo test` runs).
///
/// ```
/// assert_eq!(saga::testing::fault_scale("SAGA_DOC_UNSET_SCALE", 10, 1_000), 10);
/// ```
#[must_use]
pub fn fault_scale(var: &str, default: u64, long: u64) -> u64 {
    if let Some(n) = std::env::var(var).ok().and_then(|s| s.parse().ok()) {
        return n;
    }
    if std::env::var("SAGA_LONG_FAULTS").is_ok_and(|v| v == "1") {
        long
    } else {
        default
    }
}
