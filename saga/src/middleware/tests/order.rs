//! Pins the order in which stacked layers apply: the first layer added is the outermost.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tower_layer::Layer;

use super::support::{ctx, Outcome, Scripted};
use crate::async_trait;
use crate::middleware::{
    CircuitBreakerConfig, CircuitBreakerLayer, CircuitState, MiddlewareBuilder, RetryLayer,
    TimeoutLayer,
};
use crate::step::{Step, StepContext, StepError};
use crate::RetryPolicy;

type Trace = Arc<Mutex<Vec<String>>>;

/// A layer that writes `enter name` / `leave name` around the call.
#[derive(Clone)]
struct Tag(&'static str, Trace);

struct Tagged<S>(&'static str, Trace, S);

impl<S> Layer<S> for Tag {
    type Service = Tagged<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Tagged(self.0, Arc::clone(&self.1), inner)
    }
}

#[async_trait]
impl<S: Step<u32>> Step<u32> for Tagged<S> {
    async fn execute(&self, ctx: &StepContext, data: &mut u32) -> Result<(), StepError> {
        self.1
            .lock()
            .expect("trace")
            .push(format!("enter {}", self.0));
        let result = self.2.execute(ctx, data).await;
        self.1
            .lock()
            .expect("trace")
            .push(format!("leave {}", self.0));
        result
    }
}

#[tokio::test]
async fn the_first_layer_added_is_the_outermost() {
    let trace = Trace::default();
    let stack = MiddlewareBuilder::new()
        .layer(Tag("a", Arc::clone(&trace)))
        .layer(Tag("b", Arc::clone(&trace)))
        .service(Scripted::default());
    stack.execute(&ctx(), &mut 0).await.expect("ok");
    let tuple =
        (Tag("a", Arc::clone(&trace)), Tag("b", Arc::clone(&trace))).layer(Scripted::default());
    tuple.execute(&ctx(), &mut 0).await.expect("ok");
    let expected = ["enter a", "enter b", "leave b", "leave a"];
    assert_eq!(*trace.lock().expect("trace"), [expected, expected].concat());
}

fn retry3() -> RetryLayer {
    RetryLayer::new(
        RetryPolicy::default()
            .with_max_attempts(3)
            .with_initial_delay(Duration::from_millis(10))
            .without_jitter(),
    )
}

/// A step whose first two calls hang for a minute; the third adds the call number to the data.
fn slow_twice() -> impl Step<u32> {
    let calls = Arc::new(Mutex::new(0_u32));
    crate::step_fn(move |_: StepContext, n: u32| {
        let calls = Arc::clone(&calls);
        async move {
            let call = {
                let mut calls = calls.lock().expect("calls");
                *calls += 1;
                *calls
            };
            if call <= 2 {
                tokio::time::sleep(Duration::from_secs(60)).await;
            }
            Ok::<_, StepError>(n + call)
        }
    })
}

#[tokio::test(start_paused = true)]
async fn retry_outside_timeout_times_each_attempt() {
    let each_attempt = MiddlewareBuilder::new()
        .layer(retry3())
        .layer(TimeoutLayer::new(Duration::from_secs(1)))
        .service(slow_twice());
    let mut data = 0;
    each_attempt
        .execute(&ctx(), &mut data)
        .await
        .expect("the third attempt is fast");
    assert_eq!(data, 3);

    let all_attempts = MiddlewareBuilder::new()
        .layer(TimeoutLayer::new(Duration::from_secs(1)))
        .layer(retry3())
        .service(slow_twice());
    let error = all_attempts
        .execute(&ctx(), &mut data)
        .await
        .expect_err("one limit for all");
    assert!(error.to_string().contains("timed out"), "{error}");
    assert_eq!(data, 3, "a failed step leaves the data alone");
}

#[tokio::test(start_paused = true)]
async fn breaker_inside_retry_counts_every_attempt() {
    let config = CircuitBreakerConfig::default()
        .with_consecutive_failures(3)
        .without_failure_rate();
    let script = || Scripted::new([Outcome::Transient; 3]);

    let breaker = CircuitBreakerLayer::new(config.clone());
    let per_attempt = MiddlewareBuilder::new()
        .layer(retry3())
        .layer(breaker.clone())
        .service(script());
    let _ = per_attempt.execute(&ctx(), &mut 0).await;
    assert_eq!(
        breaker.state(),
        CircuitState::Open,
        "3 attempts, 3 failures"
    );

    let breaker = CircuitBreakerLayer::new(config);
    let per_call = MiddlewareBuilder::new()
        .layer(breaker.clone())
        .layer(retry3())
        .service(script());
    let _ = per_call.execute(&ctx(), &mut 0).await;
    assert_eq!(
        breaker.state(),
        CircuitState::Closed,
        "one retried call, one failure"
    );
}
