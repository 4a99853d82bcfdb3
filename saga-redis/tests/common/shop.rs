//! A small orchestrated shop for the end-to-end tests: stock, payment and shipping participants whose
//! effects go through a ledger keyed by idempotency key (the participants' inbox), and the order saga
//! whose steps are remote commands.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use saga::participant::{
    CommandContext, IdempotencyStore, Participant, ParticipantConfig, ReplyRouter,
};
use saga::transport::Transport;
use saga::{RetryPolicy, SagaDefinition, StepError, StepSpec};
use serde::{Deserialize, Serialize};

/// One order: its amount, and whether shipping refuses it (the saga then compensates).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Order {
    pub amount: u64,
    pub refuse_shipping: bool,
}

/// Every effect applied, keyed by idempotency key (`saga/step/direction`), and how often handlers
/// ran (redeliveries and retries make that larger; effects stay once).
#[derive(Default)]
pub struct Ledger {
    pub effects: Mutex<HashMap<String, &'static str>>,
    pub executions: AtomicU64,
    pub balance: Mutex<i64>,
    pub reserved: Mutex<i64>,
    pub shipped: AtomicU64,
    /// Handler calls begun (before their work), and a signal each time one begins.
    pub started: AtomicU64,
    started_signal: tokio::sync::Notify,
}

impl Ledger {
    /// Counts a handler call as begun, then takes its `work`.
    async fn begin(&self, work: Duration) {
        self.started.fetch_add(1, Ordering::Relaxed);
        self.started_signal.notify_waiters();
        tokio::time::sleep(work).await;
    }

    /// Resolves once at least `n` handler calls have begun.
    pub async fn started_at_least(&self, n: u64) {
        loop {
            let signal = self.started_signal.notified();
            tokio::pin!(signal);
            signal.as_mut().enable();
            if self.started.load(Ordering::Relaxed) >= n {
                return;
            }
            signal.await;
        }
    }

    /// Applies `effect` once per idempotency key; `true` if it was applied now.
    fn apply(&self, ctx: &CommandContext, effect: &'static str) -> bool {
        self.executions.fetch_add(1, Ordering::Relaxed);
        let key = ctx.idempotency_key().to_string();
        let mut effects = self.effects.lock();
        if effects.contains_key(&key) {
            return false;
        }
        effects.insert(key, effect);
        true
    }

    /// The effects applied to saga `id`, sorted.
    pub fn of(&self, id: saga::SagaId) -> Vec<&'static str> {
        let prefix = format!("{id}/");
        let mut out: Vec<&'static str> = self
            .effects
            .lock()
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(_, v)| *v)
            .collect();
        out.sort_unstable();
        out
    }
}

/// Spawns the three participants on `transport`, sharing `store` (one inbox for every replica of a
/// service) and `ledger`; each handler takes `work` before it applies its effect.
pub async fn participants(
    transport: &Arc<dyn Transport>,
    store: &Arc<dyn IdempotencyStore>,
    ledger: &Arc<Ledger>,
    work: Duration,
) -> Vec<Participant> {
    let config = ParticipantConfig::default()
        .with_claim_lease(Duration::from_secs(1))
        .with_retry_delay(Duration::from_millis(50));
    let mut out = Vec::new();
    for name in ["stock", "pay", "ship"] {
        let mut b = Participant::builder(name, Arc::clone(transport))
            .with_store(Arc::clone(store))
            .with_config(config.clone());
        let l = Arc::clone(ledger);
        b = match name {
            "stock" => b
                .command("reserve", move |ctx, amount: u64| {
                    let l = Arc::clone(&l);
                    async move {
                        l.begin(work).await;
                        if l.apply(&ctx, "reserve") {
                            *l.reserved.lock() += i64::try_from(amount).unwrap_or(0);
                        }
                        Ok::<_, StepError>(())
                    }
                })
                .command("release", {
                    let l = Arc::clone(ledger);
                    move |ctx, amount: u64| {
                        let l = Arc::clone(&l);
                        async move {
                            l.begin(work).await;
                            if l.apply(&ctx, "release") {
                                *l.reserved.lock() -= i64::try_from(amount).unwrap_or(0);
                            }
                            Ok::<_, StepError>(())
                        }
                    }
                }),
            "pay" => b
                .command("charge", move |ctx, amount: u64| {
                    let l = Arc::clone(&l);
                    async move {
                        l.begin(work).await;
                        if l.apply(&ctx, "charge") {
                            *l.balance.lock() += i64::try_from(amount).unwrap_or(0);
                        }
                        Ok::<_, StepError>(())
                    }
                })
                .command("refund", {
                    let l = Arc::clone(ledger);
                    move |ctx, amount: u64| {
                        let l = Arc::clone(&l);
                        async move {
                            l.begin(work).await;
                            if l.apply(&ctx, "refund") {
                                *l.balance.lock() -= i64::try_from(amount).unwrap_or(0);
                            }
                            Ok::<_, StepError>(())
                        }
                    }
                }),
            _ => b.command("ship", move |ctx, refuse: bool| {
                let l = Arc::clone(&l);
                async move {
                    l.begin(work).await;
                    if refuse {
                        return Err(StepError::permanent("carrier refused"));
                    }
                    if l.apply(&ctx, "ship") {
                        l.shipped.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(())
                }
            }),
        };
        out.push(b.spawn().await.expect("participant"));
    }
    out
}

/// The order saga: reserve (release), charge (refund), ship (pivot); each command attempt waits up to
/// `timeout` and is retried (same idempotency key) up to `attempts` times.
pub fn definition(router: &ReplyRouter, timeout: Duration, attempts: u32) -> SagaDefinition<Order> {
    let retry = RetryPolicy::default()
        .with_max_attempts(attempts)
        .with_initial_delay(Duration::from_millis(50))
        .with_max_delay(Duration::from_millis(500));
    SagaDefinition::<Order>::builder("order", 1)
        .step(
            StepSpec::compensatable(
                "reserve",
                router
                    .step(
                        "stock",
                        "reserve",
                        |o: &Order| o.amount,
                        |_: &mut Order, (): ()| {},
                    )
                    .with_timeout(timeout),
                router
                    .compensation("stock", "release", |o: &Order| o.amount)
                    .with_timeout(timeout),
            )
            .with_retry(retry)
            .with_compensation_retry(retry),
        )
        .step(
            StepSpec::compensatable(
                "charge",
                router
                    .step(
                        "pay",
                        "charge",
                        |o: &Order| o.amount,
                        |_: &mut Order, (): ()| {},
                    )
                    .with_timeout(timeout),
                router
                    .compensation("pay", "refund", |o: &Order| o.amount)
                    .with_timeout(timeout),
            )
            .with_retry(retry)
            .with_compensation_retry(retry),
        )
        .step(
            StepSpec::pivot(
                "ship",
                router
                    .step(
                        "ship",
                        "ship",
                        |o: &Order| o.refuse_shipping,
                        |_: &mut Order, (): ()| {},
                    )
                    .with_timeout(timeout),
            )
            .with_retry(retry),
        )
        .build()
        .expect("valid definition")
}
