//! A saga whose step sits behind an open breaker waits for it, then completes.

use std::sync::Arc;
use std::time::Duration;

use tower_layer::Layer;

use super::support::{Outcome, Scripted};
use crate::middleware::{CircuitBreakerConfig, CircuitBreakerLayer, CircuitState, MiddlewareError};
use crate::{
    compensation_fn, Executor, InMemoryLog, RetryPolicy, SagaDefinition, SagaState, StepContext,
    StepError, StepSpec,
};

#[tokio::test(start_paused = true)]
async fn a_saga_waits_for_an_open_breaker_then_succeeds() {
    let open_for = Duration::from_secs(5);
    let carrier = CircuitBreakerLayer::new(
        CircuitBreakerConfig::default()
            .with_name("carrier")
            .with_consecutive_failures(1)
            .with_open_duration(open_for),
    );
    // An earlier caller found the carrier down.
    let outage = carrier
        .call(|| async { Err::<(), _>(StepError::transient("carrier down")) })
        .await;
    assert!(matches!(outage, Err(MiddlewareError::Inner(_))));
    assert_eq!(carrier.state(), CircuitState::Open);

    let ship = Scripted::new([Outcome::Ok]);
    let undo = compensation_fn(|_: StepContext, _: u32| async { Ok::<_, StepError>(()) });
    let def = SagaDefinition::<u32>::builder("ship-order", 1)
        .compensatable("ship", carrier.layer(ship.clone()), undo)
        .build()
        .expect("valid definition");
    let executor = Executor::new(def, Arc::new(InMemoryLog::new()));

    let started = tokio::time::Instant::now();
    let outcome = executor.run(0).await.expect("the saga ran");
    assert_eq!(outcome.state, SagaState::Completed, "{:?}", outcome.failure);
    assert_eq!(outcome.data, 1);
    assert_eq!(
        ship.calls(),
        1,
        "the open breaker kept the first attempt away from the carrier"
    );
    assert!(
        started.elapsed() >= open_for,
        "the executor honoured retry_after"
    );
    assert_eq!(carrier.state(), CircuitState::Closed);
    let history = executor.status(outcome.id).await.expect("status").history;
    assert!(history
        .iter()
        .any(|h| h.event == crate::EventKind::StepRetrying));
}

#[tokio::test(start_paused = true)]
async fn a_breaker_that_stays_open_past_the_retry_budget_compensates_the_step() {
    let carrier = CircuitBreakerLayer::new(
        CircuitBreakerConfig::default()
            .with_consecutive_failures(1)
            .with_open_duration(Duration::from_secs(3_600)),
    );
    let _ = carrier
        .call(|| async { Err::<(), _>(StepError::transient("carrier down")) })
        .await;
    // The carrier is still down when the breaker half-opens: the trial fails and it opens again.
    let ship = Scripted::new([Outcome::Transient]);
    let undo = compensation_fn(|_: StepContext, _: u32| async { Ok::<_, StepError>(()) });
    let def = SagaDefinition::<u32>::builder("ship-order", 1)
        .step(
            StepSpec::compensatable("ship", carrier.layer(ship.clone()), undo)
                .with_retry(RetryPolicy::default().with_max_attempts(2)),
        )
        .build()
        .expect("valid definition");
    let executor = Executor::new(def, Arc::new(InMemoryLog::new()));
    let outcome = executor.run(0).await.expect("the saga ran");
    assert_eq!(outcome.state, SagaState::Compensated);
    assert_eq!(
        ship.calls(),
        1,
        "only the half-open trial reached the carrier"
    );
    assert_eq!(carrier.state(), CircuitState::Open);
    let history = executor.status(outcome.id).await.expect("status").history;
    assert!(
        history
            .iter()
            .any(|h| h.event == crate::EventKind::StepUnknown),
        "{history:?}"
    );
}
