//! Loom models of the breaker's state machine: every interleaving of concurrent admissions and
//! outcomes (up to a preemption bound) must keep its invariants.
//!
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
//!     cargo test -p saga-core --release --lib middleware::breaker::loom
//! ```

use std::time::Duration;

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;

use super::core::{Core, Transition};
use super::{CircuitBreakerConfig, CircuitState};

const MS: u64 = 1_000_000;

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(3);
    }
    builder.check(f);
}

fn config(trials: u32) -> CircuitBreakerConfig {
    CircuitBreakerConfig::default()
        .with_consecutive_failures(2)
        .without_failure_rate()
        .with_open_duration(Duration::from_millis(10))
        .with_half_open_calls(trials)
}

/// One call at `now`: returns (admitted as a trial, transitions it caused).
fn call(core: &Core, now: u64, failed: bool, trials: &AtomicUsize) -> (bool, Vec<Transition>) {
    let mut transitions = Vec::new();
    let Ok((permit, entered)) = core.acquire(|| now) else {
        core.check_invariants();
        return (false, transitions);
    };
    transitions.extend(entered);
    if permit.is_trial() {
        let admitted = trials.fetch_add(1, Ordering::SeqCst) + 1;
        let limit = core.config().half_open_calls();
        assert!(
            admitted <= limit as usize,
            "{admitted} trial calls, limit {limit}"
        );
    }
    core.check_invariants();
    transitions.extend(core.record(permit, failed, || now));
    core.check_invariants();
    (permit.is_trial(), transitions)
}

#[test]
fn concurrent_failures_open_the_breaker_exactly_once() {
    model(|| {
        let core = Arc::new(Core::new(config(1)));
        let trials = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let (core, trials) = (Arc::clone(&core), Arc::clone(&trials));
                thread::spawn(move || call(&core, 0, true, &trials).1)
            })
            .collect();
        let transitions: Vec<_> = threads
            .into_iter()
            .flat_map(|t| t.join().expect("no panic"))
            .collect();
        assert_eq!(
            transitions,
            [Transition {
                from: CircuitState::Closed,
                to: CircuitState::Open
            }]
        );
        assert_eq!(core.state(0), CircuitState::Open);
    });
}

#[test]
fn half_open_never_admits_more_than_its_trial_calls() {
    model(|| {
        let core = Arc::new(Core::new(config(2)));
        let trials = Arc::new(AtomicUsize::new(0));
        call(&core, 0, true, &trials);
        call(&core, 0, true, &trials);
        assert_eq!(core.state(0), CircuitState::Open);
        // Three callers arrive when the open period is over; the middle one fails.
        let now = 10 * MS;
        let threads: Vec<_> = [false, true, false]
            .into_iter()
            .map(|failed| {
                let (core, trials) = (Arc::clone(&core), Arc::clone(&trials));
                thread::spawn(move || call(&core, now, failed, &trials))
            })
            .collect();
        let results: Vec<_> = threads
            .into_iter()
            .map(|t| t.join().expect("no panic"))
            .collect();
        let half_opened = results
            .iter()
            .flat_map(|(_, t)| t)
            .filter(|t| t.to == CircuitState::HalfOpen)
            .count();
        assert_eq!(half_opened, 1, "one caller moved the breaker to half-open");
        let failing_trial = results[1].0;
        let expected = if failing_trial {
            CircuitState::Open
        } else {
            CircuitState::Closed
        };
        assert_eq!(core.state(now), expected);
    });
}

#[test]
fn failure_rate_trips_once_under_concurrency() {
    model(|| {
        let config = CircuitBreakerConfig::default()
            .with_consecutive_failures(0)
            .with_failure_rate(0.5, 2);
        let core = Arc::new(Core::new(config));
        let trials = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = [true, false, true]
            .into_iter()
            .map(|failed| {
                let (core, trials) = (Arc::clone(&core), Arc::clone(&trials));
                thread::spawn(move || call(&core, 0, failed, &trials).1)
            })
            .collect();
        let opened = threads
            .into_iter()
            .flat_map(|t| t.join().expect("no panic"))
            .filter(|t| t.to == CircuitState::Open)
            .count();
        assert_eq!(opened, 1);
        assert_eq!(core.state(0), CircuitState::Open);
    });
}
