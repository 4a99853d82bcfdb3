//! The closure API: nesting layers around a gateway call and classifying its errors.

use std::time::Duration;

use crate::middleware::{
    BulkheadConfig, BulkheadLayer, CircuitBreakerConfig, CircuitBreakerLayer, CircuitState,
    MiddlewareError, TimeoutLayer,
};
use crate::StepError;

#[tokio::test(start_paused = true)]
async fn nested_calls_flatten_into_one_error() {
    let breaker = CircuitBreakerLayer::new(
        CircuitBreakerConfig::default()
            .with_consecutive_failures(1)
            .without_failure_rate(),
    );
    let bulkhead = BulkheadLayer::new(BulkheadConfig::default());
    let timeout = TimeoutLayer::new(Duration::from_secs(1));
    let slow_gateway = || async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        Ok::<u32, std::io::Error>(7)
    };
    let result = breaker
        .call(|| bulkhead.call(|| timeout.call(slow_gateway)))
        .await
        .map_err(|e| e.flatten().flatten());
    assert!(matches!(result, Err(MiddlewareError::TimedOut { .. })));
    assert_eq!(
        breaker.state(),
        CircuitState::Open,
        "a timeout is a transient failure"
    );

    let rejected = breaker.call(|| async { Ok::<_, std::io::Error>(1) }).await;
    let step_error = rejected
        .expect_err("open")
        .into_step_error_with(|io| StepError::transient(io.to_string()));
    assert!(step_error.is_transient());
    assert!(step_error.retry_after().is_some());
    let source = std::error::Error::source(&step_error).expect("the rejection is kept");
    assert!(source.downcast_ref::<MiddlewareError>().is_some());
}

#[tokio::test]
async fn step_errors_keep_their_kind_through_the_conversion() {
    let breaker = CircuitBreakerLayer::default();
    let refused = breaker
        .call(|| async { Err::<(), _>(StepError::permanent("card declined")) })
        .await;
    let error = StepError::from(refused.expect_err("declined"));
    assert!(!error.is_transient());
    assert_eq!(error.message(), "card declined");
}
