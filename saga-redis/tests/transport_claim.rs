//! A consumer killed mid-run: its pending entries are claimed (`XAUTOCLAIM`) and finished by the
//! competing consumers of its groups. Every saga reaches its terminal state, none is lost, and no
//! effect is applied twice (the ledger is keyed by idempotency key).

mod common;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use common::shop::{self, Ledger, Order};
use saga::participant::{IdempotencyStore, ReplyRouter, RouterConfig};
use saga::transport::Transport;
use saga::{Executor, InMemoryIdempotencyStore, InMemoryLog, SagaState};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_consumer_s_pending_entries_are_claimed_and_finished_by_another() {
    let prefix = common::prefix();
    let config = common::transport_config(&prefix);
    let Some(doomed) = common::transport(config.clone()).await else {
        return;
    };
    let _guard = common::Guard(prefix.clone());
    let survivor = common::transport(config.clone()).await.expect("server");
    let orchestrator = common::transport(config).await.expect("server");
    let survivor_stats = survivor.clone();
    let (doomed, survivor): (Arc<dyn Transport>, Arc<dyn Transport>) =
        (Arc::new(doomed), Arc::new(survivor));
    let ledger = Arc::new(Ledger::default());
    // One inbox for both replicas of each service, as a shared database would be.
    let store: Arc<dyn IdempotencyStore> = Arc::new(InMemoryIdempotencyStore::new());
    // The doomed replicas never finish a command: whatever they take stays pending until they die.
    let victims = shop::participants(&doomed, &store, &ledger, Duration::from_secs(3600)).await;
    let router = ReplyRouter::start(
        Arc::new(orchestrator),
        RouterConfig::default().with_owner_id(format!("orch-{prefix}")),
    )
    .await
    .expect("router");
    let executor = Executor::new(
        shop::definition(&router, Duration::from_secs(3), 10),
        Arc::new(InMemoryLog::new()),
    );
    let mut handles = Vec::new();
    for i in 0..200u64 {
        let order = Order {
            amount: 1 + i,
            refuse_shipping: i % 7 == 0,
        };
        handles.push(executor.start(order).await.expect("start"));
    }
    // Once the doomed replicas hold a command, the survivors join and the first replicas die with
    // entries pending.
    tokio::time::timeout(Duration::from_secs(60), ledger.started_at_least(1))
        .await
        .expect("a doomed replica takes a command");
    let survivors = shop::participants(&survivor, &store, &ledger, Duration::from_millis(30)).await;
    for p in victims {
        p.abort();
    }
    let mut completed = 0;
    let mut expected_balance = 0i64;
    for handle in handles {
        let outcome = tokio::time::timeout(Duration::from_secs(120), handle.outcome())
            .await
            .expect("every saga finishes")
            .expect("saga runs");
        let effects = ledger.of(outcome.id);
        match outcome.state {
            SagaState::Completed => {
                completed += 1;
                expected_balance += i64::try_from(outcome.data.amount).unwrap_or(0);
                assert_eq!(effects, ["charge", "reserve", "ship"], "{}", outcome.id);
            }
            SagaState::Compensated => {
                assert!(
                    outcome.data.refuse_shipping,
                    "only refused orders compensate"
                );
                assert_eq!(effects, ["charge", "refund", "release", "reserve"]);
            }
            other => panic!("saga {} ended {other:?}", outcome.id),
        }
    }
    assert_eq!(completed, 200 - 29, "every order not refused completed");
    assert_eq!(
        *ledger.balance.lock(),
        expected_balance,
        "charged once per completed order"
    );
    assert_eq!(
        *ledger.reserved.lock(),
        expected_balance,
        "stock released for every refusal"
    );
    assert!(
        survivor_stats.stats().claimed > 0,
        "the survivor claimed the victim's pending entries: {:?}",
        survivor_stats.stats()
    );
    let executions = ledger.executions.load(Ordering::Relaxed);
    let effects = ledger.effects.lock().len() as u64;
    assert!(
        executions >= effects,
        "{executions} executions, {effects} effects"
    );
    for p in survivors {
        p.shutdown().await;
    }
    router.shutdown().await.expect("reply channel deleted");
}
