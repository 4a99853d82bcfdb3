//! Per-call overhead of each middleware layer against a bare call.
//!
//! ```text
//! cargo bench --bench middleware -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! Figures are in `docs/benchmarks.md`, section "Middleware".

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use saga::middleware::{
    BulkheadConfig, BulkheadLayer, CircuitBreakerConfig, CircuitBreakerLayer, MiddlewareBuilder,
    RetryLayer, TimeoutLayer,
};
use saga::{Direction, RetryPolicy, SagaId, Step, StepContext, StepError};

/// The wrapped call: as cheap as an async call gets, so what is measured is the layer.
async fn bare(n: u64) -> Result<u64, StepError> {
    Ok(black_box(n))
}

struct Noop;

#[saga::async_trait]
impl Step<u64> for Noop {
    async fn execute(&self, _ctx: &StepContext, data: &mut u64) -> Result<(), StepError> {
        *data = black_box(*data + 1);
        Ok(())
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime")
}

fn closures(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("middleware/call");
    group.bench_function("bare", |b| b.to_async(&rt).iter(|| bare(1)));

    let consecutive = CircuitBreakerLayer::new(
        CircuitBreakerConfig::default()
            .with_consecutive_failures(5)
            .without_failure_rate(),
    );
    group.bench_function("breaker_closed_consecutive", |b| {
        b.to_async(&rt).iter(|| consecutive.call(|| bare(1)))
    });
    let windowed = CircuitBreakerLayer::default();
    group.bench_function("breaker_closed_window", |b| {
        b.to_async(&rt).iter(|| windowed.call(|| bare(1)))
    });
    let open = CircuitBreakerLayer::new(
        CircuitBreakerConfig::default()
            .with_consecutive_failures(1)
            .with_open_duration(Duration::from_secs(3_600)),
    );
    rt.block_on(async {
        let _ = open
            .call(|| async { Err::<(), _>(StepError::transient("down")) })
            .await;
    });
    group.bench_function("breaker_open_reject", |b| {
        b.to_async(&rt).iter(|| open.call(|| bare(1)))
    });
    let bulkhead = BulkheadLayer::new(BulkheadConfig::default().with_max_concurrent(16));
    group.bench_function("bulkhead", |b| {
        b.to_async(&rt).iter(|| bulkhead.call(|| bare(1)))
    });
    let timeout = TimeoutLayer::new(Duration::from_secs(30));
    group.bench_function("timeout", |b| {
        b.to_async(&rt).iter(|| timeout.call(|| bare(1)))
    });
    let retry = RetryLayer::new(RetryPolicy::default());
    group.bench_function("retry", |b| b.to_async(&rt).iter(|| retry.call(|| bare(1))));
    group.finish();
}

fn steps(c: &mut Criterion) {
    let rt = runtime();
    let ctx = StepContext::new(SagaId::new(), 0, "ship".into(), Direction::Forward, 1);
    let mut group = c.benchmark_group("middleware/step");
    group.bench_function("bare", |b| {
        b.to_async(&rt).iter(|| async {
            let mut data = 0;
            Noop.execute(&ctx, &mut data).await
        })
    });
    let stack = MiddlewareBuilder::new()
        .layer(RetryLayer::default())
        .layer(CircuitBreakerLayer::default())
        .layer(BulkheadLayer::default())
        .layer(TimeoutLayer::new(Duration::from_secs(30)))
        .service(Noop);
    group.bench_function("retry_breaker_bulkhead_timeout", |b| {
        b.to_async(&rt).iter(|| async {
            let mut data = 0;
            stack.execute(&ctx, &mut data).await
        })
    });
    group.finish();
}

criterion_group!(benches, closures, steps);
criterion_main!(benches);
