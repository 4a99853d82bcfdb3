//! The participants of the model's saga: every step call is journaled, then waits in the mailbox
//! until an op replies to it. The mailbox is also the participants' inbox: the first final answer to
//! an idempotency key is the answer to all its later calls, and an effect is applied once per key.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use parking_lot::Mutex;
use tokio::sync::{oneshot, Notify};

use super::Reply;
use crate::id::{Direction, IdempotencyKey, SagaId};
use crate::log::{LogEvent, SagaLog, SagaSnapshot};
use crate::step::{Compensation, Step, StepContext, StepError};
use crate::testing::Journal;

/// A call waiting for its reply.
pub(super) struct Waiting {
    pub(super) inc: usize,
    pub(super) key: IdempotencyKey,
    pub(super) attempt: u32,
    reply: oneshot::Sender<Reply>,
}

/// What the participants saw.
#[derive(Default)]
pub(super) struct Seen {
    pub(super) waiting: Vec<Waiting>,
    /// Keys in the order their effect was applied (the first success of each).
    pub(super) applied: Vec<IdempotencyKey>,
    /// Contract breaches seen at a call.
    pub(super) violations: Vec<String>,
    /// Per saga, the step of the last compensation called.
    compensating: HashMap<SagaId, u32>,
}

impl Seen {
    /// What a call of `key` may not be, with the log as it is when the call is made: an execution
    /// whose completion the log records already; a compensation of a step neither completed nor in
    /// doubt (the one the saga was at when it left its forward path); a compensation out of reverse
    /// order; an action after compensation began.
    fn check(&mut self, key: IdempotencyKey, snapshot: &SagaSnapshot) -> Result<(), String> {
        let events = || snapshot.records.iter().map(|r| &r.event);
        let recorded = events().any(|e| match (e, key.direction) {
            (LogEvent::StepCompleted { step, .. }, Direction::Forward)
            | (LogEvent::CompensationCompleted { step, .. }, Direction::Compensate) => {
                *step == key.step
            }
            _ => false,
        });
        if recorded {
            return Err(format!("{key} called after its completion was recorded"));
        }
        let last = self.compensating.get(&key.saga_id).copied();
        if key.direction == Direction::Forward {
            return match last {
                Some(step) => Err(format!(
                    "{key} called after the compensation of step {step}"
                )),
                None => Ok(()),
            };
        }
        let completed = events()
            .filter(|e| matches!(e, LogEvent::StepCompleted { .. }))
            .count();
        let in_doubt =
            events().any(|e| matches!(e, LogEvent::Aborted { .. } | LogEvent::StepUnknown { .. }));
        let step = key.step as usize;
        if !(step < completed || (step == completed && in_doubt)) {
            return Err(format!(
                "{key} called with {completed} steps completed (in doubt: {in_doubt})"
            ));
        }
        if last.is_some_and(|last| key.step > last) {
            return Err(format!(
                "{key} called after the compensation of a step before it"
            ));
        }
        self.compensating.insert(key.saga_id, key.step);
        Ok(())
    }
}

/// Shared by every step of every executor of a case.
#[derive(Default)]
pub(super) struct Mailbox {
    pub(super) seen: Mutex<Seen>,
    pub(super) changed: Arc<Notify>,
}

impl Mailbox {
    /// Replies to the call executor `inc` made for `key`'s saga; `false` if there is none.
    pub(super) fn deliver(&self, inc: usize, key: IdempotencyKey, reply: Reply) -> bool {
        let mut seen = self.seen.lock();
        let Some(at) = seen
            .waiting
            .iter()
            .position(|w| w.inc == inc && w.key.saga_id == key.saga_id)
        else {
            return false;
        };
        let waiting = seen.waiting.remove(at);
        if reply == Reply::Ok && !seen.applied.contains(&waiting.key) {
            seen.applied.push(waiting.key);
        }
        waiting.reply.send(reply).is_ok()
    }

    /// Drops every call of executor `inc` (its process died): their steps fail transiently. Returns
    /// how many were still awaited (their drivers were not aborted).
    pub(super) fn drop_calls_of(&self, inc: usize) -> u64 {
        let mut seen = self.seen.lock();
        let (dropped, kept) = std::mem::take(&mut seen.waiting)
            .into_iter()
            .partition::<Vec<Waiting>, _>(|w| w.inc == inc);
        seen.waiting = kept;
        dropped.iter().filter(|w| !w.reply.is_closed()).count() as u64
    }
}

/// The step (and compensation) every slot of the model's definition runs, for executor `inc`.
pub(super) struct ModelStep {
    pub(super) inc: usize,
    pub(super) mailbox: Arc<Mailbox>,
    pub(super) journal: Journal,
    pub(super) log: Arc<dyn SagaLog>,
}

impl ModelStep {
    async fn call(&self, ctx: &StepContext) -> Result<(), StepError> {
        let recording = self.journal.record(ctx);
        let key = ctx.idempotency_key();
        if let Ok(Some(snapshot)) = self.log.load(key.saga_id).await {
            let breach = self.mailbox.seen.lock().check(key, &snapshot);
            if let Err(breach) = breach {
                self.mailbox.seen.lock().violations.push(breach);
            }
        }
        let (tx, rx) = oneshot::channel();
        {
            let mut seen = self.mailbox.seen.lock();
            seen.waiting.push(Waiting {
                inc: self.inc,
                key,
                attempt: ctx.attempt(),
                reply: tx,
            });
        }
        self.mailbox.changed.notify_waiters();
        let result = match rx.await {
            Ok(Reply::Ok) => Ok(()),
            Ok(Reply::Refuse) => Err(StepError::permanent("refused by the model")),
            Ok(Reply::Transient) => Err(StepError::transient("transient by the model")),
            Err(_) => Err(StepError::transient("the participant's caller is gone")),
        };
        recording.finish(&result);
        result
    }
}

#[async_trait]
impl Step<u32> for ModelStep {
    async fn execute(&self, ctx: &StepContext, _data: &mut u32) -> Result<(), StepError> {
        self.call(ctx).await
    }
}

#[async_trait]
impl Compensation<u32> for ModelStep {
    async fn compensate(&self, ctx: &StepContext, _data: &u32) -> Result<(), StepError> {
        self.call(ctx).await
    }
}
