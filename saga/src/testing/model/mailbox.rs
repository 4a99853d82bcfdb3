//! The participants of the model's saga: every step call is journaled, then waits in the mailbox
//! until an op replies to it. The mailbox is also the participants' inbox: the first final answer to
//! an idempotency key is the answer to all its later calls, and an effect is applied once per key.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use parking_lot::Mutex;
use tokio::sync::{oneshot, Notify};

use super::Reply;
use crate::id::{Direction, IdempotencyKey};
use crate::log::{LogEvent, SagaLog};
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
    /// Successful calls per key: more than one is a re-execution the inbox absorbed.
    pub(super) successes: HashMap<IdempotencyKey, u32>,
    /// Keys in the order their effect was applied.
    pub(super) applied: Vec<IdempotencyKey>,
    /// Contract breaches seen at a call.
    pub(super) violations: Vec<String>,
    pub(super) calls: u64,
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
        if reply == Reply::Ok {
            let n = seen.successes.entry(waiting.key).or_default();
            *n += 1;
            if *n == 1 {
                seen.applied.push(waiting.key);
            }
        }
        waiting.reply.send(reply).is_ok()
    }

    /// Drops every call of executor `inc` (its process died): their steps fail transiently.
    pub(super) fn drop_calls_of(&self, inc: usize) {
        self.seen.lock().waiting.retain(|w| w.inc != inc);
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
        // An execution whose completion the log already records must never be called again.
        if let Ok(Some(snapshot)) = self.log.load(key.saga_id).await {
            let recorded = snapshot
                .records
                .iter()
                .any(|r| match (&r.event, key.direction) {
                    (LogEvent::StepCompleted { step, .. }, Direction::Forward)
                    | (LogEvent::CompensationCompleted { step, .. }, Direction::Compensate) => {
                        *step == key.step
                    }
                    _ => false,
                });
            if recorded {
                self.mailbox
                    .seen
                    .lock()
                    .violations
                    .push(format!("{key} called after its completion was recorded"));
            }
        }
        let (tx, rx) = oneshot::channel();
        {
            let mut seen = self.mailbox.seen.lock();
            seen.calls += 1;
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
