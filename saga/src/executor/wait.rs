//! Awaiting a saga's outcome by id, whatever drives it on this executor.

use tokio::sync::oneshot;

use super::replay::replay;
use super::{Executor, SagaOutcome};
use crate::error::{Error, Result};
use crate::id::SagaId;
use crate::log::{SagaSnapshot, SagaState};
use crate::sharded::ShardedMap;
use crate::step::SagaData;

const SHARDS: usize = 32;

/// Who waits for which saga's outcome.
pub(crate) struct Waiters<D> {
    map: ShardedMap<SagaId, Vec<oneshot::Sender<SagaOutcome<D>>>>,
}

impl<D: Clone> Waiters<D> {
    pub(crate) fn new() -> Self {
        Self {
            map: ShardedMap::new(SHARDS),
        }
    }

    /// Hands `outcome` to everyone waiting for its saga.
    pub(crate) fn publish(&self, outcome: &SagaOutcome<D>) {
        let waiting = self.map.lock(&outcome.id).remove(&outcome.id);
        for waiter in waiting.into_iter().flatten() {
            // A waiter that gave up meanwhile is simply skipped.
            let _ = waiter.send(outcome.clone());
        }
    }
}

/// One `wait`'s registration; forgets it when dropped (also when the wait is cancelled).
struct Waiting<'a, D: Clone> {
    waiters: &'a Waiters<D>,
    id: SagaId,
    rx: oneshot::Receiver<SagaOutcome<D>>,
}

impl<'a, D: Clone> Waiting<'a, D> {
    fn new(waiters: &'a Waiters<D>, id: SagaId) -> Self {
        let (tx, rx) = oneshot::channel();
        waiters.map.lock(&id).entry(id).or_default().push(tx);
        Self { waiters, id, rx }
    }

    /// The outcome, if a driver published it already.
    fn published(&mut self) -> Option<SagaOutcome<D>> {
        self.rx.try_recv().ok()
    }
}

impl<D: Clone> Drop for Waiting<'_, D> {
    fn drop(&mut self) {
        self.rx.close();
        let mut shard = self.waiters.map.lock(&self.id);
        if let Some(list) = shard.get_mut(&self.id) {
            list.retain(|tx| !tx.is_closed());
            if list.is_empty() {
                shard.remove(&self.id);
            }
        }
    }
}

/// Finished or parked: what `wait` returns at.
fn settled(state: SagaState) -> bool {
    state.is_terminal() || state == SagaState::Stuck
}

impl<D: SagaData> Executor<D> {
    /// Waits until the saga is finished or parked as stuck, and returns its outcome, whichever path
    /// of this executor drives it: [`start`](Self::start)ed or [`run`](Self::run) here, taken over by
    /// [`cancel`](Self::cancel), resumed by [`recover`](Self::recover), or retried by an operator
    /// ([`retry`](Self::retry)). A saga that is finished (or stuck) already gets its outcome from the
    /// log at once; so does one an operator [`resolve`](Self::resolve)s meanwhile. The outcome is the
    /// one its driver returns, also when it is rebuilt from the log.
    ///
    /// It never polls: it is told by this executor's driver of the saga. A saga that no driver of
    /// *this* executor holds and that is not finished — another executor process drives it, or it
    /// waits for a `recover` — is an [`Error::NotDrivenHere`] at once, with its state and owner; call
    /// `wait` again after `recover` (or ask the executor that owns it). The same error comes when the
    /// driver stops without an outcome (its log failed, it lost its lease, its task was aborted).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use std::sync::Arc;
    /// use saga::{step_fn, Executor, InMemoryLog, SagaDefinition, SagaState, StepError};
    /// let def = SagaDefinition::<u32>::builder("count", 1)
    ///     .retriable("add", step_fn(|_, n: u32| async move { Ok::<_, StepError>(n + 1) }))
    ///     .build()?;
    /// let executor = Executor::new(def, Arc::new(InMemoryLog::new()));
    /// let id = executor.start(1).await?.id();
    /// let outcome = executor.wait(id).await?;
    /// assert_eq!((outcome.state, outcome.data), (SagaState::Completed, 2));
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    /// [`Error::NotDrivenHere`]; [`Error::UnknownSaga`]; [`Error::WrongDefinition`] for a saga of
    /// another definition; [`Error::InconsistentLog`] or [`Error::Codec`] if its log cannot be read
    /// back into an outcome; log errors.
    pub async fn wait(&self, id: SagaId) -> Result<SagaOutcome<D>> {
        loop {
            // Registered before the log is read: a driver that finishes after the read tells us.
            let mut waiting = Waiting::new(&self.inner.waiters, id);
            let snapshot = self.load(id).await?;
            if settled(snapshot.instance.state) {
                return self.outcome_from_log(&snapshot);
            }
            if let Some(control) = self.inner.registry.get(id) {
                tokio::select! {
                    biased;
                    outcome = &mut waiting.rx => if let Ok(outcome) = outcome {
                        return Ok(outcome);
                    },
                    () = control.released() => {}
                }
                // Released without an outcome (the driver stopped, or an operator acted on the
                // saga): look again.
                if let Some(outcome) = waiting.published() {
                    return Ok(outcome);
                }
                continue;
            }
            if let Some(outcome) = waiting.published() {
                return Ok(outcome);
            }
            // The driver may have finished between the read and the registry lookup.
            let snapshot = self.load(id).await?;
            if settled(snapshot.instance.state) {
                return self.outcome_from_log(&snapshot);
            }
            return Err(Error::NotDrivenHere {
                saga_id: id,
                state: snapshot.instance.state,
                owner: snapshot.instance.owner,
            });
        }
    }

    /// The outcome of a finished (or stuck) saga, rebuilt from its records.
    fn outcome_from_log(&self, snapshot: &SagaSnapshot) -> Result<SagaOutcome<D>> {
        let inner = &*self.inner;
        let inst = &snapshot.instance;
        self.check_definition(inst.id, &inst.definition, inst.definition_version)?;
        let r = replay(
            inst.id,
            &snapshot.records,
            inner.def.steps.len(),
            inner.def.commit_point,
        )?;
        Ok(SagaOutcome {
            id: inst.id,
            state: inst.state,
            data: inner.decode(inst.id, &r.data)?,
            failure: r.cause.map(|c| c.into_failure(&inner.def)),
        })
    }
}
