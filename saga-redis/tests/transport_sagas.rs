//! Sagas end to end over Redis Streams: orchestrated with `Executor` + `ReplyRouter` + remote
//! participants, and a choreographed event flow.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use common::shop::{self, Ledger, Order};
use futures::StreamExt as _;
use parking_lot::Mutex;
use saga::participant::{EventPublisher, IdempotencyStore, Participant, ReplyRouter, RouterConfig};
use saga::transport::Transport;
use saga::{Executor, InMemoryIdempotencyStore, InMemoryLog, SagaId, SagaState, StepError};
use serde::{Deserialize, Serialize};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orchestrated_sagas_complete_or_compensate_over_streams() {
    let prefix = common::prefix();
    let Some(t) = common::transport(common::transport_config(&prefix)).await else {
        return;
    };
    let _guard = common::Guard(prefix.clone());
    let t: Arc<dyn Transport> = Arc::new(t);
    let ledger = Arc::new(Ledger::default());
    let store: Arc<dyn IdempotencyStore> = Arc::new(InMemoryIdempotencyStore::new());
    let services = shop::participants(&t, &store, &ledger, Duration::ZERO).await;
    let router = ReplyRouter::start(
        Arc::clone(&t),
        RouterConfig::default().with_owner_id("orch"),
    )
    .await
    .expect("router");
    let executor = Executor::new(
        shop::definition(&router, Duration::from_secs(5), 3),
        Arc::new(InMemoryLog::new()),
    );
    let outcomes: Vec<_> = futures::stream::iter(0..100u64)
        .map(|i| {
            let executor = executor.clone();
            async move {
                let order = Order {
                    amount: 10 + i,
                    refuse_shipping: i % 10 == 0,
                };
                let refused = order.refuse_shipping;
                (refused, executor.run(order).await.expect("saga runs"))
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let mut expected_balance = 0i64;
    for (refused, outcome) in &outcomes {
        let effects = ledger.of(outcome.id);
        if *refused {
            assert_eq!(outcome.state, SagaState::Compensated);
            assert_eq!(effects, ["charge", "refund", "release", "reserve"]);
        } else {
            assert_eq!(outcome.state, SagaState::Completed);
            assert_eq!(effects, ["charge", "reserve", "ship"]);
            expected_balance += i64::try_from(outcome.data.amount).unwrap_or(0);
        }
    }
    assert_eq!(*ledger.balance.lock(), expected_balance, "money conserved");
    for p in services {
        p.shutdown().await;
    }
    router.shutdown().await.expect("reply channel deleted");
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct OrderEvent {
    order: u32,
    amount: u64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_choreographed_flow_reaches_every_service_once() {
    let prefix = common::prefix();
    let Some(t) = common::transport(common::transport_config(&prefix)).await else {
        return;
    };
    let _guard = common::Guard(prefix.clone());
    let t: Arc<dyn Transport> = Arc::new(t);
    // Stock for 15 of the 20 orders; payment charges every order and refunds those without stock;
    // shipping ships once both stock and payment said yes; the order service records the ends.
    let stock = Arc::new(Mutex::new(15u32));
    let wallet = Arc::new(Mutex::new(0i64));
    let ends: Arc<Mutex<HashMap<u32, &'static str>>> = Arc::default();
    let ready: Arc<Mutex<HashMap<u32, u8>>> = Arc::default();
    let s = Arc::clone(&stock);
    let inventory = Participant::builder("inventory", Arc::clone(&t))
        .event("order.created", move |ctx, e: OrderEvent| {
            let s = Arc::clone(&s);
            async move {
                let ok = {
                    let mut s = s.lock();
                    let ok = *s > 0;
                    *s = s.saturating_sub(1);
                    ok
                };
                let topic = if ok {
                    "stock.reserved"
                } else {
                    "stock.unavailable"
                };
                ctx.publish(topic, &e)
                    .await
                    .map_err(|e| StepError::transient(e.to_string()))?;
                Ok(())
            }
        })
        .spawn()
        .await
        .expect("inventory");
    let (w, w2) = (Arc::clone(&wallet), Arc::clone(&wallet));
    let payment = Participant::builder("payment", Arc::clone(&t))
        .event("order.created", move |ctx, e: OrderEvent| {
            let w = Arc::clone(&w);
            async move {
                *w.lock() += i64::try_from(e.amount).unwrap_or(0);
                ctx.publish("payment.completed", &e)
                    .await
                    .map_err(|e| StepError::transient(e.to_string()))?;
                Ok(())
            }
        })
        .event("stock.unavailable", move |ctx, e: OrderEvent| {
            let w = Arc::clone(&w2);
            async move {
                *w.lock() -= i64::try_from(e.amount).unwrap_or(0);
                ctx.publish("order.cancelled", &e)
                    .await
                    .map_err(|e| StepError::transient(e.to_string()))?;
                Ok(())
            }
        })
        .spawn()
        .await
        .expect("payment");
    let (r, r2) = (Arc::clone(&ready), Arc::clone(&ready));
    let on_ready = move |r: Arc<Mutex<HashMap<u32, u8>>>| {
        move |ctx: saga::participant::EventContext, e: OrderEvent| {
            let r = Arc::clone(&r);
            async move {
                let both = {
                    let mut r = r.lock();
                    let n = r.entry(e.order).or_default();
                    *n += 1;
                    *n == 2
                };
                if both {
                    ctx.publish("shipping.arranged", &e)
                        .await
                        .map_err(|e| StepError::transient(e.to_string()))?;
                }
                Ok(())
            }
        }
    };
    let shipping = Participant::builder("shipping", Arc::clone(&t))
        .event("stock.reserved", on_ready(r))
        .event("payment.completed", on_ready(r2))
        .spawn()
        .await
        .expect("shipping");
    let (e1, e2) = (Arc::clone(&ends), Arc::clone(&ends));
    let orders = Participant::builder("orders", Arc::clone(&t))
        .event("shipping.arranged", move |_ctx, e: OrderEvent| {
            let ends = Arc::clone(&e1);
            async move {
                assert!(ends.lock().insert(e.order, "completed").is_none(), "once");
                Ok(())
            }
        })
        .event("order.cancelled", move |_ctx, e: OrderEvent| {
            let ends = Arc::clone(&e2);
            async move {
                assert!(ends.lock().insert(e.order, "cancelled").is_none(), "once");
                Ok(())
            }
        })
        .spawn()
        .await
        .expect("orders");
    let publisher = EventPublisher::new(Arc::clone(&t));
    for order in 0..20u32 {
        let event = OrderEvent { order, amount: 100 };
        publisher
            .publish("order.created", Some(SagaId::new()), &event)
            .await
            .expect("publish");
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while ends.lock().len() < 20 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "flow stalled: {:?}",
            ends.lock()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ends = ends.lock().clone();
    let completed: HashSet<u32> = ends
        .iter()
        .filter(|(_, v)| **v == "completed")
        .map(|(k, _)| *k)
        .collect();
    assert_eq!(completed.len(), 15, "{ends:?}");
    assert_eq!(*wallet.lock(), 15 * 100, "five refunds");
    assert_eq!(*stock.lock(), 0);
    for p in [inventory, payment, shipping, orders] {
        assert_eq!(p.stats().dead_lettered, 0, "{}", p.name());
        p.shutdown().await;
    }
}
