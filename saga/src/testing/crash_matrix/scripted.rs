//! The saga the crash matrix drives: `n` compensatable steps whose behaviour a seed and a path decide,
//! and a ledger that records every invocation and applies each effect once per idempotency key, as a
//! participant's inbox would.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use parking_lot::Mutex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::definition::{RetryPolicy, SagaDefinition, StepSpec};
use crate::id::{Direction, IdempotencyKey};
use crate::step::{Compensation, Step, StepContext, StepError};

/// Which way the scripted saga goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CrashPath {
    /// Every step succeeds.
    Success,
    /// Step `i` (0-based) refuses permanently: steps `i-1..=0` are compensated.
    Fails(usize),
}

/// What one seed decides: how often each step and compensation fails transiently before it succeeds
/// (always within the default budgets, so the outcome is decided by the path alone).
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) path: CrashPath,
    pub(crate) transient: Vec<u32>,
    pub(crate) comp_transient: Vec<u32>,
}

impl Plan {
    pub(crate) fn new(steps: usize, seed: u64, path: CrashPath) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        Self {
            path,
            transient: (0..steps).map(|_| rng.gen_range(0..=2)).collect(),
            comp_transient: (0..steps).map(|_| rng.gen_range(0..=2)).collect(),
        }
    }
}

/// Everything the steps observed in one case (both "processes").
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    /// Every invocation in order: (step, direction, attempt).
    pub(crate) calls: Vec<(usize, Direction)>,
    /// Keys whose effect was applied (the inbox).
    pub(crate) applied: HashSet<IdempotencyKey>,
    /// Successful invocations per key: above 1 is a re-execution the inbox absorbed.
    pub(crate) successes: HashMap<IdempotencyKey, u32>,
    /// Distinct keys per (step, direction) whose effect was applied: above 1 is an effect applied twice.
    pub(crate) effects: HashMap<(usize, Direction), HashSet<IdempotencyKey>>,
    /// Steps whose compensation took effect, in order.
    pub(crate) compensations: Vec<usize>,
}

pub(crate) type SharedLedger = Arc<Mutex<Ledger>>;

struct Scripted {
    index: usize,
    plan: Arc<Plan>,
    ledger: SharedLedger,
}

impl Scripted {
    /// Records the call; returns whether the effect was new.
    fn apply(&self, ctx: &StepContext) -> bool {
        let mut l = self.ledger.lock();
        let key = ctx.idempotency_key();
        *l.successes.entry(key).or_default() += 1;
        let fresh = l.applied.insert(key);
        if fresh {
            l.effects
                .entry((self.index, ctx.direction()))
                .or_default()
                .insert(key);
        }
        fresh
    }

    fn record(&self, ctx: &StepContext) {
        self.ledger.lock().calls.push((self.index, ctx.direction()));
    }
}

#[async_trait]
impl Step<u64> for Scripted {
    async fn execute(&self, ctx: &StepContext, _data: &mut u64) -> Result<(), StepError> {
        self.record(ctx);
        tokio::task::yield_now().await;
        if self.plan.path == CrashPath::Fails(self.index) {
            return Err(StepError::permanent("refused by the crash matrix"));
        }
        if ctx.attempt() <= self.plan.transient[self.index] {
            return Err(StepError::transient("transient by the crash matrix"));
        }
        self.apply(ctx);
        Ok(())
    }
}

#[async_trait]
impl Compensation<u64> for Scripted {
    async fn compensate(&self, ctx: &StepContext, _data: &u64) -> Result<(), StepError> {
        self.record(ctx);
        tokio::task::yield_now().await;
        if ctx.attempt() <= self.plan.comp_transient[self.index] {
            return Err(StepError::transient("transient by the crash matrix"));
        }
        if self.apply(ctx) {
            self.ledger.lock().compensations.push(self.index);
        }
        Ok(())
    }
}

/// The definition for one case; retries back off by zero, so no case waits on a clock.
pub(crate) fn definition(
    name: &str,
    plan: &Arc<Plan>,
    ledger: &SharedLedger,
) -> SagaDefinition<u64> {
    let retry = RetryPolicy::default()
        .with_initial_delay(std::time::Duration::ZERO)
        .with_max_delay(std::time::Duration::ZERO);
    let mut b = SagaDefinition::builder(name, 1);
    for index in 0..plan.transient.len() {
        let make = || Scripted {
            index,
            plan: Arc::clone(plan),
            ledger: Arc::clone(ledger),
        };
        b = b.step(
            StepSpec::compensatable(format!("step-{index}"), make(), make())
                .with_retry(retry)
                .with_compensation_retry(retry),
        );
    }
    b.build()
        .expect("the crash matrix builds a valid definition")
}
