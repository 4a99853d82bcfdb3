//! The execution journal: every call of a step or compensation, in order, with its key and attempt.

use std::fmt;
use std::sync::Arc;

use parking_lot::Mutex;

use super::ScriptedStep;
use crate::id::{Direction, IdempotencyKey};
use crate::step::{SagaData, StepContext, StepError};

/// One call of a step's action or compensation, as a [`Journal`] recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Call {
    /// The step's name in the definition (or the label the step was given with
    /// [`ScriptedStep::named`]).
    pub name: Arc<str>,
    /// The execution's idempotency key: saga id, step index and direction.
    pub key: IdempotencyKey,
    /// The attempt number the executor gave the call ([`StepContext::attempt`]).
    pub attempt: u32,
    /// How the call ended, so far.
    pub outcome: CallOutcome,
}

impl Call {
    /// Action or compensation.
    #[must_use]
    pub const fn direction(&self) -> Direction {
        self.key.direction
    }
}

impl fmt::Display for Call {
    /// `name` for an action, `undo name` for a compensation: the form [`Journal::summary`] lists.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.key.direction {
            Direction::Forward => f.write_str(&self.name),
            Direction::Compensate => write!(f, "undo {}", self.name),
        }
    }
}

/// How a journaled call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CallOutcome {
    /// Still running (or waiting at a gate).
    Running,
    /// Returned `Ok`: its effect took place.
    Succeeded,
    /// Returned a transient error.
    FailedTransiently,
    /// Returned a permanent error: the step refused.
    Refused,
    /// Dropped before it returned (a timeout, a deadline, a cancel or an aborted driver).
    Interrupted,
}

/// Records every call of the steps and compensations made from it ([`step`](Self::step),
/// [`undo`](Self::undo)) or recorded into it ([`record`](Self::record)), in call order, across
/// sagas, executors and recoveries. Clones share one journal.
#[derive(Debug, Clone, Default)]
pub struct Journal {
    inner: Arc<Mutex<Entries>>,
}

#[derive(Debug, Default)]
struct Entries {
    calls: Vec<Call>,
    /// How many calls [`Journal::clear`] forgot: a recording's index counts them too.
    cleared: usize,
}

impl Journal {
    /// An empty journal.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A step that records its calls here and succeeds; script it further with the methods of
    /// [`ScriptedStep`].
    pub fn step<D: SagaData>(&self) -> ScriptedStep<D> {
        ScriptedStep::new(self.clone())
    }

    /// A compensation that records its calls here and succeeds. The same type as [`step`](Self::step)
    /// (a [`ScriptedStep`] is both): the name only says where it goes.
    pub fn undo<D: SagaData>(&self) -> ScriptedStep<D> {
        self.step()
    }

    /// Records a call of a step written by hand, under the step's own name; finish the returned
    /// [`Recording`] with the call's result (dropping it unfinished records the call as interrupted).
    pub fn record(&self, ctx: &StepContext) -> Recording {
        self.record_as(ctx, Arc::from(ctx.step_name()))
    }

    pub(super) fn record_as(&self, ctx: &StepContext, name: Arc<str>) -> Recording {
        let key = ctx.idempotency_key();
        let mut entries = self.inner.lock();
        let earlier = entries.calls.iter().filter(|c| c.key == key).count();
        entries.calls.push(Call {
            name,
            key,
            attempt: ctx.attempt(),
            outcome: CallOutcome::Running,
        });
        Recording {
            journal: self.clone(),
            index: entries.cleared + entries.calls.len() - 1,
            earlier,
            finished: false,
        }
    }

    /// Every call so far, in call order.
    #[must_use]
    pub fn calls(&self) -> Vec<Call> {
        self.inner.lock().calls.clone()
    }

    /// Every call so far as text, in call order: `"reserve"` for an action, `"undo reserve"` for a
    /// compensation. Failed and interrupted calls are listed too; see [`effects`](Self::effects).
    #[must_use]
    pub fn summary(&self) -> Vec<String> {
        self.inner
            .lock()
            .calls
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    /// The calls that succeeded, as text like [`summary`](Self::summary): the effects that took place.
    #[must_use]
    pub fn effects(&self) -> Vec<String> {
        self.inner
            .lock()
            .calls
            .iter()
            .filter(|c| c.outcome == CallOutcome::Succeeded)
            .map(ToString::to_string)
            .collect()
    }

    /// How many times the step named `name` was called in `direction` (every attempt counts).
    #[must_use]
    pub fn count(&self, name: &str, direction: Direction) -> usize {
        self.inner
            .lock()
            .calls
            .iter()
            .filter(|c| &*c.name == name && c.key.direction == direction)
            .count()
    }

    /// Forgets every call recorded so far (scripted steps count their transient failures from the
    /// journal, so they start over too).
    pub fn clear(&self) {
        let mut entries = self.inner.lock();
        entries.cleared += entries.calls.len();
        entries.calls.clear();
    }

    pub(super) fn with_calls<T>(&self, f: impl FnOnce(&[Call]) -> T) -> T {
        f(&self.inner.lock().calls)
    }
}

/// A call being recorded in a [`Journal`]; see [`Journal::record`].
#[derive(Debug)]
#[must_use = "finish the recording with the call's result"]
pub struct Recording {
    journal: Journal,
    index: usize,
    earlier: usize,
    finished: bool,
}

impl Recording {
    /// How many calls with the same idempotency key the journal held before this one.
    #[must_use]
    pub const fn earlier_calls(&self) -> usize {
        self.earlier
    }

    /// Records how the call ended.
    pub fn finish<T>(mut self, result: &Result<T, StepError>) {
        let outcome = match result {
            Ok(_) => CallOutcome::Succeeded,
            Err(e) if e.is_transient() => CallOutcome::FailedTransiently,
            Err(_) => CallOutcome::Refused,
        };
        self.set(outcome);
        self.finished = true;
    }

    fn set(&self, outcome: CallOutcome) {
        let mut entries = self.journal.inner.lock();
        // A call that `clear` forgot has nothing left to update.
        if let Some(i) = self.index.checked_sub(entries.cleared) {
            if let Some(call) = entries.calls.get_mut(i) {
                call.outcome = outcome;
            }
        }
    }
}

impl Drop for Recording {
    fn drop(&mut self) {
        if !self.finished {
            self.set(CallOutcome::Interrupted);
        }
    }
}
