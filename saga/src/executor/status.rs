//! What `status` and a finished saga report.

use super::replay::replay;
use super::Executor;
use crate::error::Result;
use crate::id::{Direction, SagaId};
use crate::log::{LogRecord, SagaState};
use crate::step::SagaData;

/// One line of a saga's history: a recorded transition.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HistoryEntry {
    /// Position in the log.
    pub seq: u64,
    /// When it was recorded (ms since the Unix epoch, the log's clock).
    pub at_ms: u64,
    /// The event kind, e.g. `"step_completed"` (see [`LogEvent::kind`](crate::LogEvent::kind)).
    pub event: &'static str,
    /// The step index, where the event concerns one step.
    pub step: Option<u32>,
    /// The step's name in the definition.
    pub step_name: Option<String>,
    /// The attempt, where the event has one.
    pub attempt: Option<u32>,
    /// The error, note or abort reason.
    pub detail: Option<String>,
}

impl HistoryEntry {
    pub(crate) fn from_record(record: &LogRecord, step_name: impl Fn(u32) -> String) -> Self {
        let parts = record.event.to_parts();
        let names_a_step = !matches!(parts.kind, "aborted");
        Self {
            seq: record.seq,
            at_ms: record.at_ms,
            event: parts.kind,
            step: parts.step,
            step_name: parts.step.filter(|_| names_a_step).map(step_name),
            attempt: parts.attempt,
            detail: parts.detail,
        }
    }
}

/// The answer to `Executor::status`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SagaStatus {
    /// The saga.
    pub id: SagaId,
    /// Its definition name.
    pub definition: String,
    /// Its definition version.
    pub definition_version: u32,
    /// Current state.
    pub state: SagaState,
    /// The step being worked on (index, name, direction), if any.
    pub current_step: Option<(usize, String, Direction)>,
    /// Every recorded transition, oldest first.
    pub history: Vec<HistoryEntry>,
    /// Log version.
    pub version: u64,
}

/// How a saga driven by this executor ended (or parked).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SagaOutcome<D> {
    /// The saga.
    pub id: SagaId,
    /// `Completed`, `Compensated`, `Stuck` or `Resolved`.
    pub state: SagaState,
    /// The saga data as of its last completed step.
    pub data: D,
    /// The failing step and error that led to compensation or to `Stuck`, if any.
    pub failure: Option<(usize, String)>,
}

impl<D> SagaOutcome<D> {
    /// `true` if every step completed.
    #[must_use]
    pub fn is_completed(&self) -> bool {
        self.state == SagaState::Completed
    }
}

impl<D: SagaData> Executor<D> {
    /// The saga's state, current step and history.
    ///
    /// # Errors
    /// [`Error::UnknownSaga`](crate::Error::UnknownSaga); log errors.
    pub async fn status(&self, id: SagaId) -> Result<SagaStatus> {
        let snapshot = self.load(id).await?;
        let inst = &snapshot.instance;
        let same_def = inst.definition == *self.inner.def.name
            && inst.definition_version == self.inner.def.version;
        let name = |i: u32| {
            self.inner
                .def
                .step_name(i as usize)
                .filter(|_| same_def)
                .map_or_else(|| format!("step {i}"), str::to_owned)
        };
        let steps = self.inner.def.steps.len();
        let current_step = if same_def {
            replay(id, &snapshot.records, steps, self.inner.def.commit_point)?
                .phase
                .current(steps)
                .map(|(i, dir)| (i, name(u32::try_from(i).unwrap_or(u32::MAX)), dir))
        } else {
            None
        };
        Ok(SagaStatus {
            id,
            definition: inst.definition.clone(),
            definition_version: inst.definition_version,
            state: inst.state,
            current_step,
            history: snapshot
                .records
                .iter()
                .map(|r| HistoryEntry::from_record(r, name))
                .collect(),
            version: inst.version,
        })
    }
}
