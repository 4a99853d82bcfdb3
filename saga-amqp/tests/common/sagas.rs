//! Orchestrated sagas over a transport for the end-to-end, crash and restart tests: `steps` remote
//! participants (`step0`, `step1`, …) whose commands apply an effect to a shared ledger keyed by
//! idempotency key, so a test can prove every effect landed once.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use saga::participant::{IdempotencyStore, Participant, ParticipantConfig, ReplyRouter};
use saga::{RetryPolicy, SagaDefinition, SagaState, StepError, StepSpec, Transport};
use serde::{Deserialize, Serialize};

/// Saga data: the step that refuses (permanently), if any.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Job {
    pub fail_at: Option<u32>,
}

/// Every effect applied, by idempotency key, with how many times it was applied; optionally holding
/// the commands of the later steps until the test releases them.
pub struct Ledger {
    effects: Mutex<HashMap<String, u32>>,
    redeliveries: std::sync::atomic::AtomicU64,
    /// Commands of this step and later ones wait for `open` (`u32::MAX`: none wait).
    held_from: std::sync::atomic::AtomicU32,
    open: tokio::sync::watch::Sender<bool>,
    waiting: std::sync::atomic::AtomicU64,
}

impl Default for Ledger {
    fn default() -> Self {
        Self {
            effects: Mutex::default(),
            redeliveries: std::sync::atomic::AtomicU64::new(0),
            held_from: std::sync::atomic::AtomicU32::new(u32::MAX),
            open: tokio::sync::watch::Sender::new(true),
            waiting: std::sync::atomic::AtomicU64::new(0),
        }
    }
}

impl Ledger {
    /// Commands of step `step` and later ones wait, delivered and unacknowledged, until
    /// [`Ledger::release`]: a test that must act while sagas are provably in flight holds them.
    pub fn hold_from(&self, step: u32) {
        self.open.send_replace(false);
        self.held_from
            .store(step, std::sync::atomic::Ordering::SeqCst);
    }

    /// Lets held commands (and every later one) go on.
    pub fn release(&self) {
        self.open.send_replace(true);
    }

    /// How many command deliveries have waited at the hold so far.
    pub fn waited(&self) -> u64 {
        self.waiting.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Waits here if `step` is held.
    async fn pass(&self, step: u32) {
        if step < self.held_from.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let mut open = self.open.subscribe();
        if !*open.borrow_and_update() {
            self.waiting
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        let _ = open.wait_for(|o| *o).await;
    }

    /// How many commands arrived as a redelivery (delivered before, to anyone).
    pub fn redeliveries(&self) -> u64 {
        self.redeliveries.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn apply(&self, key: String) {
        *self.effects.lock().entry(key).or_default() += 1;
    }

    /// Effects applied more than once.
    pub fn duplicates(&self) -> Vec<(String, u32)> {
        let effects = self.effects.lock();
        effects
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(k, n)| (k.clone(), *n))
            .collect()
    }

    /// How many distinct effects were applied.
    pub fn len(&self) -> usize {
        self.effects.lock().len()
    }

    /// Whether the effect of `saga`'s step `step` in `direction` was applied.
    pub fn has(&self, saga: saga::SagaId, step: u32, direction: saga::Direction) -> bool {
        let key = saga::IdempotencyKey::new(saga, step, direction).to_string();
        self.effects.lock().contains_key(&key)
    }
}

/// The participants of `steps` steps on `transport`, sharing `store` (an inbox several replicas of a
/// participant would share) and `ledger`; each command works for `work` before applying its effect.
pub async fn participants(
    transport: &Arc<dyn Transport>,
    steps: u32,
    ledger: &Arc<Ledger>,
    store: &Arc<dyn IdempotencyStore>,
    config: &ParticipantConfig,
    work: Duration,
) -> Vec<Participant> {
    let mut out = Vec::new();
    for i in 0..steps {
        let (l1, l2) = (Arc::clone(ledger), Arc::clone(ledger));
        let p = Participant::builder(format!("step{i}"), Arc::clone(transport))
            .with_store(Arc::clone(store))
            .with_config(config.clone())
            .command("do", move |ctx, refuse: bool| {
                let ledger = Arc::clone(&l1);
                if ctx.deliveries().at_least() > 1 {
                    ledger
                        .redeliveries
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                async move {
                    ledger.pass(i).await;
                    if !work.is_zero() {
                        tokio::time::sleep(work).await;
                    }
                    if refuse {
                        return Err(StepError::permanent("refused"));
                    }
                    ledger.apply(ctx.idempotency_key().to_string());
                    Ok(())
                }
            })
            .command("undo", move |ctx, (): ()| {
                let ledger = Arc::clone(&l2);
                async move {
                    ledger.apply(ctx.idempotency_key().to_string());
                    Ok::<_, StepError>(())
                }
            })
            .spawn()
            .await
            .expect("participant");
        out.push(p);
    }
    out
}

/// A definition of `steps` compensatable remote steps, each retried per `retry`.
pub fn definition(router: &ReplyRouter, steps: u32, retry: RetryPolicy) -> SagaDefinition<Job> {
    let mut b = SagaDefinition::<Job>::builder("amqp-e2e", 1);
    for i in 0..steps {
        let topic = format!("step{i}");
        let spec = StepSpec::compensatable(
            format!("step{i}"),
            router.step(
                topic.clone(),
                "do",
                move |j: &Job| j.fail_at == Some(i),
                |_j: &mut Job, (): ()| {},
            ),
            router.compensation(topic, "undo", |_j: &Job| ()),
        )
        .with_retry(retry)
        .with_compensation_retry(retry);
        b = b.step(spec);
    }
    b.build().expect("a valid definition")
}

/// Checks the ledger against how `outcomes` ended: completed sagas applied every step once and undid
/// none; compensated ones undid every step they applied; no effect twice.
pub fn check(ledger: &Ledger, steps: u32, outcomes: &[(saga::SagaId, SagaState, Option<u32>)]) {
    use saga::Direction::{Compensate, Forward};
    assert_eq!(ledger.duplicates(), Vec::new(), "effects applied twice");
    for (id, state, fail_at) in outcomes {
        match (state, fail_at) {
            (SagaState::Completed, None) => {
                for s in 0..steps {
                    assert!(
                        ledger.has(*id, s, Forward),
                        "saga {id} step {s} not applied"
                    );
                    assert!(!ledger.has(*id, s, Compensate), "saga {id} step {s} undone");
                }
            }
            (SagaState::Compensated, Some(k)) => {
                for s in 0..*k {
                    assert!(
                        ledger.has(*id, s, Forward),
                        "saga {id} step {s} not applied"
                    );
                    assert!(
                        ledger.has(*id, s, Compensate),
                        "saga {id} step {s} not undone"
                    );
                }
                for s in (*k + 1)..steps {
                    assert!(
                        !ledger.has(*id, s, Forward),
                        "saga {id} ran step {s} after a refusal"
                    );
                }
            }
            other => panic!("saga {id} ended {other:?}"),
        }
    }
}
