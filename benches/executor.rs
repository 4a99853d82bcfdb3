//! Per-step overhead of the executor on the in-memory log: sagas of 1 and 8 no-op steps, so the
//! difference divided by 7 is the cost one step adds (action call, data clone, encode, log append).

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use saga::{
    compensation_fn, step_fn, Executor, InMemoryLog, SagaDefinition, StepContext, StepError,
};

fn definition(steps: usize) -> SagaDefinition<u64> {
    let mut b = SagaDefinition::<u64>::builder("bench", 1);
    for i in 0..steps {
        b = b.compensatable(
            format!("step-{i}"),
            step_fn(|_: StepContext, n: u64| async move { Ok::<_, StepError>(n + 1) }),
            compensation_fn(|_: StepContext, _: u64| async { Ok::<_, StepError>(()) }),
        );
    }
    b.build().expect("valid definition")
}

fn per_step(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("executor/saga");
    for steps in [1usize, 3, 8] {
        // A fresh log per benchmark; it grows with the iterations, as a real log does.
        let exec = Executor::new(definition(steps), Arc::new(InMemoryLog::new()));
        group.throughput(Throughput::Elements(steps as u64));
        group.bench_with_input(BenchmarkId::from_parameter(steps), &steps, |b, _| {
            b.to_async(&rt).iter(|| async {
                let outcome = exec.run(0).await.expect("saga runs");
                assert_eq!(outcome.data, steps as u64);
            });
        });
    }
    group.finish();
}

criterion_group!(benches, per_step);
criterion_main!(benches);
