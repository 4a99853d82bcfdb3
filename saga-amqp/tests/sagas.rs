//! Orchestrated sagas end to end over RabbitMQ: an `Executor` with `RemoteStep`s, a `ReplyRouter` and
//! three `Participant`s that talk only through the broker; some sagas are refused at the last step and
//! compensate. Every saga ends as it should and every effect lands once.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::sagas::{self, Job, Ledger};
use saga::participant::{
    IdempotencyStore, InMemoryIdempotencyStore, ParticipantConfig, ReplyRouter, RouterConfig,
};
use saga::{Executor, InMemoryLog, RetryPolicy, SagaId, Transport};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orchestrated_sagas_complete_and_compensate_over_rabbitmq() {
    let Some(t) = common::transport(common::config()).await else {
        return;
    };
    common::with_cleanup(t, |t| async move {
        let transport: Arc<dyn Transport> = Arc::new(t.clone());
        let ledger = Arc::new(Ledger::default());
        let store: Arc<dyn IdempotencyStore> = Arc::new(InMemoryIdempotencyStore::new());
        let steps = 3;
        let parts = sagas::participants(
            &transport,
            steps,
            &ledger,
            &store,
            &ParticipantConfig::default(),
            Duration::ZERO,
        )
        .await;
        let router = ReplyRouter::start(
            Arc::clone(&transport),
            RouterConfig::default().with_owner_id(format!("e2e-{}", t.config().prefix())),
        )
        .await
        .expect("router");
        let retry = RetryPolicy::default();
        let executor = Executor::new(
            sagas::definition(&router, steps, retry),
            Arc::new(InMemoryLog::new()),
        );
        let mut runs = Vec::new();
        for i in 0..60u32 {
            let executor = executor.clone();
            let job = Job {
                fail_at: (i % 4 == 0).then_some(2),
            };
            runs.push(tokio::spawn(async move {
                let id = SagaId::new();
                let fail_at = job.fail_at;
                let outcome = executor.run_with_id(id, job).await.expect("saga runs");
                (id, outcome.state, fail_at)
            }));
        }
        let mut outcomes = Vec::new();
        for run in runs {
            outcomes.push(run.await.expect("task"));
        }
        sagas::check(&ledger, steps, &outcomes);
        assert_eq!(router.pending(), 0);
        router.shutdown().await.expect("reply channel deleted");
        for p in parts {
            p.shutdown().await;
        }
    })
    .await;
}
