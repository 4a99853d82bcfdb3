//! What a saga costs on Redis: one round trip and one script per write, counted by `RedisLogStats`.

mod common;

use std::sync::Arc;

use saga::{step_fn, Executor, SagaDefinition, SagaState, StepContext};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Data {
    steps: u32,
}

#[tokio::test]
async fn a_happy_three_step_saga_costs_four_writes() {
    let Some(log) = common::log(common::config()).await else {
        return;
    };
    let _guard = common::guard(&log);
    let mut b =
        SagaDefinition::<Data>::builder(format!("stats-{}", uuid::Uuid::new_v4().simple()), 1);
    for i in 0..3 {
        b = b.retriable(
            format!("step-{i}"),
            step_fn(|_: StepContext, mut d: Data| async move {
                d.steps += 1;
                Ok(d)
            }),
        );
    }
    let executor = Executor::new(b.build().expect("valid"), Arc::new(log.clone()));
    let before = log.stats();
    let outcome = executor.run(Data { steps: 0 }).await.expect("runs");
    assert_eq!(outcome.state, SagaState::Completed);
    assert_eq!(outcome.data.steps, 3);
    let after = log.stats();
    let writes = after.writes - before.writes;
    assert_eq!(
        (after.creates - before.creates, writes),
        (1, 4),
        "{after:?}"
    );
    assert_eq!(
        after.round_trips - before.round_trips,
        writes,
        "one round trip per write"
    );
    assert_eq!(
        after.script_calls - before.script_calls,
        writes,
        "one script per write"
    );
    common::cleanup(&log).await;
}
