//! Every breaker transition, on tokio's paused clock.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use tokio::sync::{mpsc, Notify};
use tower_layer::Layer;

use super::support::{ctx, Events, Outcome, Scripted};
use crate::middleware::{CircuitBreakerConfig, CircuitBreakerLayer, CircuitState, MiddlewareError};
use crate::step::{Step, StepError};

const OPEN: Duration = Duration::from_secs(10);

fn breaker(config: CircuitBreakerConfig) -> CircuitBreakerLayer {
    CircuitBreakerLayer::new(config.with_name("carrier").with_open_duration(OPEN))
}

fn consecutive(n: u32) -> CircuitBreakerLayer {
    breaker(
        CircuitBreakerConfig::default()
            .with_consecutive_failures(n)
            .without_failure_rate(),
    )
}

async fn run(b: &CircuitBreakerLayer, outcome: Outcome) -> Result<(), MiddlewareError<StepError>> {
    b.call(|| async move { outcome.result() }).await
}

async fn trip(b: &CircuitBreakerLayer) {
    while b.state() == CircuitState::Closed {
        let _ = run(b, Outcome::Transient).await;
    }
}

#[tokio::test(start_paused = true)]
async fn closed_to_open_on_consecutive_failures() {
    let b = consecutive(3);
    for _ in 0..2 {
        assert!(matches!(
            run(&b, Outcome::Transient).await,
            Err(MiddlewareError::Inner(_))
        ));
    }
    run(&b, Outcome::Ok).await.expect("a success");
    for _ in 0..2 {
        let _ = run(&b, Outcome::Transient).await;
    }
    assert_eq!(
        b.state(),
        CircuitState::Closed,
        "the success reset the count"
    );
    let _ = run(&b, Outcome::Transient).await;
    assert_eq!(b.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn closed_to_open_on_failure_rate_with_minimum_calls() {
    let b = breaker(
        CircuitBreakerConfig::default()
            .with_consecutive_failures(0)
            .with_failure_rate(0.5, 10)
            .with_window(Duration::from_secs(10)),
    );
    // 4 of 9 failed, and below the minimum: closed.
    for i in 0..9 {
        let outcome = if i % 2 == 1 {
            Outcome::Transient
        } else {
            Outcome::Ok
        };
        let _ = run(&b, outcome).await;
    }
    assert_eq!(b.state(), CircuitState::Closed);
    // 5 of 10: the rate is reached with enough calls.
    let _ = run(&b, Outcome::Transient).await;
    assert_eq!(b.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn failures_outside_the_window_do_not_count() {
    let b = breaker(
        CircuitBreakerConfig::default()
            .with_consecutive_failures(0)
            .with_failure_rate(0.5, 4)
            .with_window(Duration::from_secs(10)),
    );
    for _ in 0..3 {
        let _ = run(&b, Outcome::Transient).await;
        tokio::time::advance(Duration::from_secs(11)).await;
    }
    assert_eq!(
        b.state(),
        CircuitState::Closed,
        "never more than one call per window"
    );
}

#[tokio::test(start_paused = true)]
async fn open_fails_fast_without_calling_the_service() {
    let b = consecutive(2);
    trip(&b).await;
    let calls = AtomicUsize::new(0);
    for _ in 0..100 {
        let result = b
            .call(|| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Ok::<_, StepError>(())
            })
            .await;
        match result {
            Err(MiddlewareError::CircuitOpen { name, retry_after }) => {
                assert_eq!(&*name, "carrier");
                assert!(retry_after > Duration::ZERO && retry_after <= OPEN);
            }
            other => panic!("expected CircuitOpen, got {other:?}"),
        }
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn open_to_half_open_after_the_duration_then_closed_on_success() {
    let events = Events::default();
    let _subscriber = tracing::subscriber::set_default(events.clone());
    let b = consecutive(1);
    trip(&b).await;
    tokio::time::advance(OPEN - Duration::from_millis(1)).await;
    assert_eq!(b.state(), CircuitState::Open);
    match run(&b, Outcome::Ok).await {
        Err(MiddlewareError::CircuitOpen { retry_after, .. }) => {
            assert_eq!(retry_after, Duration::from_millis(1));
        }
        other => panic!("expected CircuitOpen, got {other:?}"),
    }
    tokio::time::advance(Duration::from_millis(1)).await;
    assert_eq!(b.state(), CircuitState::HalfOpen);
    run(&b, Outcome::Ok).await.expect("the trial call");
    assert_eq!(b.state(), CircuitState::Closed);
    assert_eq!(
        events.transitions(),
        ["closed->open", "open->half_open", "half_open->closed"]
    );
}

#[tokio::test(start_paused = true)]
async fn half_open_to_open_on_failure() {
    let b = consecutive(1);
    trip(&b).await;
    tokio::time::advance(OPEN).await;
    let _ = run(&b, Outcome::Transient).await;
    assert_eq!(b.state(), CircuitState::Open);
    match run(&b, Outcome::Ok).await {
        Err(MiddlewareError::CircuitOpen { retry_after, .. }) => assert_eq!(retry_after, OPEN),
        other => panic!("expected a fresh open period, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn half_open_admits_only_n_trial_calls() {
    let b = breaker(
        CircuitBreakerConfig::default()
            .with_consecutive_failures(1)
            .with_half_open_calls(2),
    );
    trip(&b).await;
    tokio::time::advance(OPEN).await;
    let gate = Arc::new(Notify::new());
    let (entered, mut entries) = mpsc::unbounded_channel();
    let trials: Vec<_> = (0..2)
        .map(|_| {
            let (b, gate, entered) = (b.clone(), Arc::clone(&gate), entered.clone());
            tokio::spawn(async move {
                b.call(|| async move {
                    let released = gate.notified();
                    tokio::pin!(released);
                    released.as_mut().enable();
                    entered.send(()).expect("test alive");
                    released.await;
                    Ok::<_, StepError>(())
                })
                .await
            })
        })
        .collect();
    for _ in 0..2 {
        entries.recv().await.expect("a trial entered");
    }
    assert!(matches!(
        run(&b, Outcome::Ok).await,
        Err(MiddlewareError::CircuitOpen { .. })
    ));
    assert_eq!(b.state(), CircuitState::HalfOpen);
    gate.notify_waiters();
    for trial in trials {
        trial.await.expect("no panic").expect("trial succeeded");
    }
    assert_eq!(b.state(), CircuitState::Closed, "both trials succeeded");
}

#[tokio::test(start_paused = true)]
async fn permanent_errors_never_trip_and_count_as_success() {
    let b = consecutive(2);
    for _ in 0..50 {
        let _ = run(&b, Outcome::Permanent).await;
    }
    assert_eq!(b.state(), CircuitState::Closed);
    let _ = run(&b, Outcome::Transient).await;
    let _ = run(&b, Outcome::Permanent).await;
    let _ = run(&b, Outcome::Transient).await;
    assert_eq!(
        b.state(),
        CircuitState::Closed,
        "the permanent error reset the count"
    );
    let _ = run(&b, Outcome::Transient).await;
    assert_eq!(b.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_call_counts_as_a_failure() {
    let b = consecutive(1);
    let pending = b.call(futures::future::pending::<Result<(), StepError>>);
    assert!(pending.now_or_never().is_none());
    assert_eq!(b.state(), CircuitState::Open);
}

#[tokio::test(start_paused = true)]
async fn a_wrapped_step_turns_an_open_circuit_into_transient_with_retry_after() {
    let b = consecutive(1);
    let step = Scripted::new([Outcome::Transient]);
    let wrapped = b.layer(step.clone());
    let mut data = 0;
    let first = wrapped
        .execute(&ctx(), &mut data)
        .await
        .expect_err("scripted failure");
    assert!(first.is_transient() && first.retry_after().is_none());
    let rejected = wrapped.execute(&ctx(), &mut data).await.expect_err("open");
    assert!(rejected.is_transient());
    assert_eq!(rejected.retry_after(), Some(OPEN));
    assert_eq!(step.calls(), 1, "the open breaker did not call the step");
    tokio::time::advance(OPEN).await;
    wrapped
        .execute(&ctx(), &mut data)
        .await
        .expect("trial succeeds");
    assert_eq!(
        (data, step.calls(), b.state()),
        (1, 2, CircuitState::Closed)
    );
}
