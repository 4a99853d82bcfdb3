//! A participant replica dies with unacknowledged commands (its connection cut mid-run, its tasks
//! aborted): the broker redelivers them to the surviving replica of the group, which finishes them.
//! Every saga completes, every effect lands once.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::proxy::{self, Proxy};
use common::sagas::{self, Job, Ledger};
use saga::participant::{
    IdempotencyStore, InMemoryIdempotencyStore, ParticipantConfig, ReplyRouter, RouterConfig,
};
use saga::{Executor, InMemoryLog, RetryPolicy, SagaId, Transport};
use saga_amqp::AmqpTransport;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_replica_leaves_its_deliveries_to_the_other() {
    let Some(t) = common::transport(common::config().with_prefetch(16)).await else {
        return;
    };
    common::with_cleanup(t, |t| async move {
        let proxy = Proxy::start(proxy::upstream(&common::amqp_url())).await;
        let doomed = AmqpTransport::connect(&proxy.url(&common::amqp_url()), t.config().clone())
            .await
            .expect("a second connection, through the proxy");
        let survivor: Arc<dyn Transport> = Arc::new(t.clone());
        let victim: Arc<dyn Transport> = Arc::new(doomed.clone());
        let ledger = Arc::new(Ledger::default());
        // One inbox for both replicas (as a shared database would be); short claims, so a command the
        // dead replica had claimed is taken over once its claim lapses.
        let store: Arc<dyn IdempotencyStore> = Arc::new(InMemoryIdempotencyStore::new());
        let steps = 3;
        let config = ParticipantConfig::default()
            .with_concurrency(16)
            .with_claim_lease(Duration::from_millis(500));
        let work = Duration::from_millis(20);
        // The victim takes more than it works on at once (prefetch 16, 4 at a time), so it dies holding
        // deliveries it never started as well as ones in progress.
        let victim_config = config.clone().with_concurrency(4);
        let replicas =
            sagas::participants(&victim, steps, &ledger, &store, &victim_config, work).await;
        let others = sagas::participants(&survivor, steps, &ledger, &store, &config, work).await;
        let router = ReplyRouter::start(
            Arc::clone(&survivor),
            RouterConfig::default()
                .with_owner_id(format!("crash-{}", t.config().prefix()))
                .with_timeout(Duration::from_secs(2)),
        )
        .await
        .expect("router");
        let retry = RetryPolicy::default()
            .with_max_attempts(20)
            .with_initial_delay(Duration::from_millis(50))
            .with_max_delay(Duration::from_millis(500));
        let executor = Executor::new(
            sagas::definition(&router, steps, retry),
            Arc::new(InMemoryLog::new()),
        );
        let n = 200;
        let mut runs = Vec::new();
        for _ in 0..n {
            let executor = executor.clone();
            runs.push(tokio::spawn(async move {
                let id = SagaId::new();
                let outcome = executor
                    .run_with_id(id, Job::default())
                    .await
                    .expect("saga runs");
                (id, outcome.state, None)
            }));
        }
        // Kill the replica mid-run: first its connection (so nothing it holds is settled), then it.
        let deadline = Instant::now() + Duration::from_secs(30);
        while ledger.len() < 100 {
            assert!(Instant::now() < deadline, "no progress before the kill");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        drop(proxy);
        for p in replicas {
            p.abort();
        }
        let mut outcomes = Vec::new();
        for run in runs {
            outcomes.push(run.await.expect("task"));
        }
        assert_eq!(outcomes.len(), n);
        sagas::check(&ledger, steps, &outcomes);
        assert_eq!(ledger.len(), n * steps as usize);
        assert!(
            ledger.redeliveries() > 0,
            "the dead replica held no delivery"
        );
        doomed.close().await;
        router.shutdown().await.expect("reply channel deleted");
        for p in others {
            p.shutdown().await;
        }
    })
    .await;
}
