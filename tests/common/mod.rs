//! A scripted saga for the property tests: each step's behaviour is decided by a [`Script`], and every
//! invocation and applied effect is recorded so tests can check the saga contract.

#![allow(dead_code)]

pub mod messages;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use parking_lot::Mutex;
use proptest::prelude::*;
use saga::{
    Compensation, Direction, IdempotencyKey, SagaDefinition, SagaState, Step, StepContext,
    StepError, StepKind, StepSpec,
};

/// What each step does.
#[derive(Debug, Clone)]
pub struct Script {
    pub kinds: Vec<StepKind>,
    /// The step that refuses permanently, if any.
    pub refuse_at: Option<usize>,
    /// Forward attempts `1..=n` of step i fail transiently.
    pub transient: Vec<u32>,
    /// Compensation attempts `1..=n` of step i fail transiently.
    pub comp_transient: Vec<u32>,
}

/// Default attempt budgets of the definition builder.
pub const FORWARD_ATTEMPTS: u32 = 3;
pub const COMPENSATION_ATTEMPTS: u32 = 5;

pub fn script() -> impl Strategy<Value = Script> {
    (1usize..=8)
        .prop_flat_map(|n| {
            (
                Just(n),
                0..=n,
                any::<bool>(),
                proptest::option::of(0..n),
                proptest::collection::vec(prop_oneof![3 => Just(0u32), 1 => 1u32..=4], n),
                proptest::collection::vec(prop_oneof![4 => Just(0u32), 1 => 1u32..=6], n),
            )
        })
        .prop_map(
            |(n, compensatable, pivot, refuse_at, transient, comp_transient)| {
                let mut kinds = vec![StepKind::Compensatable; compensatable];
                if compensatable < n {
                    kinds.push(if pivot {
                        StepKind::Pivot
                    } else {
                        StepKind::Retriable
                    });
                }
                kinds.resize(n, StepKind::Retriable);
                Script {
                    kinds,
                    refuse_at,
                    transient,
                    comp_transient,
                }
            },
        )
}

/// What the saga contract says must happen for a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub state: SagaState,
    /// Steps whose forward action was invoked at least once.
    pub started: Vec<usize>,
    /// Steps compensated, in the order their compensations completed.
    pub compensated: Vec<usize>,
}

pub fn expected(s: &Script) -> Expected {
    let mut started = Vec::new();
    let mut to_compensate = None;
    for (i, kind) in s.kinds.iter().enumerate() {
        started.push(i);
        let budget = match kind {
            StepKind::Retriable => u32::MAX,
            _ => FORWARD_ATTEMPTS,
        };
        if s.refuse_at == Some(i) {
            if *kind == StepKind::Retriable {
                return Expected {
                    state: SagaState::Stuck,
                    started,
                    compensated: vec![],
                };
            }
            to_compensate = Some(i);
            break;
        }
        if s.transient[i] >= budget {
            if *kind == StepKind::Compensatable {
                to_compensate = Some(i + 1);
                break;
            }
            return Expected {
                state: SagaState::Stuck,
                started,
                compensated: vec![],
            };
        }
    }
    let Some(n) = to_compensate else {
        return Expected {
            state: SagaState::Completed,
            started,
            compensated: vec![],
        };
    };
    let mut compensated = Vec::new();
    for j in (0..n).rev() {
        if s.comp_transient[j] >= COMPENSATION_ATTEMPTS {
            return Expected {
                state: SagaState::Stuck,
                started,
                compensated,
            };
        }
        compensated.push(j);
    }
    Expected {
        state: SagaState::Compensated,
        started,
        compensated,
    }
}

/// Everything the steps observed.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Every invocation, in order: (step, direction, attempt).
    pub calls: Vec<(usize, Direction, u32)>,
    /// Effects applied, deduplicated by idempotency key like a participant inbox would.
    pub applied: HashSet<IdempotencyKey>,
    /// Successful invocations per key (an effect would be applied this often without dedup).
    pub successes: HashMap<IdempotencyKey, u32>,
    /// Completed compensations in order.
    pub compensations: Vec<usize>,
}

pub type SharedLedger = Arc<Mutex<Ledger>>;

struct Scripted {
    index: usize,
    script: Arc<Script>,
    ledger: SharedLedger,
}

fn record(ledger: &SharedLedger, ctx: &StepContext) {
    ledger
        .lock()
        .calls
        .push((ctx.step() as usize, ctx.direction(), ctx.attempt()));
}

fn apply(ledger: &SharedLedger, ctx: &StepContext) -> bool {
    let mut l = ledger.lock();
    *l.successes.entry(ctx.idempotency_key()).or_default() += 1;
    l.applied.insert(ctx.idempotency_key())
}

#[saga::async_trait]
impl Step<Vec<usize>> for Scripted {
    async fn execute(&self, ctx: &StepContext, data: &mut Vec<usize>) -> Result<(), StepError> {
        record(&self.ledger, ctx);
        tokio::task::yield_now().await;
        if self.script.refuse_at == Some(self.index) {
            return Err(StepError::permanent("refused by script"));
        }
        if ctx.attempt() <= self.script.transient[self.index] {
            return Err(StepError::transient("transient by script"));
        }
        apply(&self.ledger, ctx);
        data.push(self.index);
        Ok(())
    }
}

#[saga::async_trait]
impl Compensation<Vec<usize>> for Scripted {
    async fn compensate(&self, ctx: &StepContext, _data: &Vec<usize>) -> Result<(), StepError> {
        record(&self.ledger, ctx);
        if ctx.attempt() <= self.script.comp_transient[self.index] {
            return Err(StepError::transient("compensation transient by script"));
        }
        if apply(&self.ledger, ctx) {
            self.ledger.lock().compensations.push(self.index);
        }
        Ok(())
    }
}

pub fn definition(script: &Script, ledger: &SharedLedger) -> SagaDefinition<Vec<usize>> {
    let shared = Arc::new(script.clone());
    let make = |i| Scripted {
        index: i,
        script: Arc::clone(&shared),
        ledger: Arc::clone(ledger),
    };
    let mut b = SagaDefinition::builder("scripted", 1);
    for (i, kind) in script.kinds.iter().enumerate() {
        let name = format!("step-{i}");
        b = b.step(match kind {
            StepKind::Compensatable => StepSpec::compensatable(name, make(i), make(i)),
            StepKind::Pivot => StepSpec::pivot(name, make(i)),
            _ => StepSpec::retriable(name, make(i)),
        });
    }
    b.build().expect("scripts generate valid definitions")
}

/// A current-thread runtime on tokio's paused clock: backoff sleeps take no real time.
pub fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime")
}
