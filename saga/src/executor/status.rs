//! What `status` reports: a saga's state, its current step and its history.

use super::replay::replay;
use super::Executor;
use crate::error::Result;
use crate::id::{Direction, SagaId};
use crate::log::{EventKind, LogRecord, SagaState};
use crate::step::SagaData;

/// One line of a saga's history: a recorded transition.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HistoryEntry {
    /// Position in the log.
    pub seq: u64,
    /// When it was recorded (ms since the Unix epoch, the log's clock).
    pub at_ms: u64,
    /// What kind of transition it was.
    pub event: EventKind,
    /// The step index, where the event concerns one step ([`EventKind::names_a_step`]).
    pub step: Option<u32>,
    /// The step's name in the definition.
    pub step_name: Option<String>,
    /// The attempt, where the event has one.
    pub attempt: Option<u32>,
    /// The error, note or abort reason (`"cancelled"`, `"deadline_exceeded"`).
    pub detail: Option<String>,
}

impl HistoryEntry {
    pub(crate) fn from_record(record: &LogRecord, step_name: impl Fn(u32) -> String) -> Self {
        let parts = record.event.to_parts();
        let step = parts.step.filter(|_| parts.kind.names_a_step());
        Self {
            seq: record.seq,
            at_ms: record.at_ms,
            event: parts.kind,
            step,
            step_name: step.map(step_name),
            attempt: parts.attempt,
            detail: parts.detail,
        }
    }
}

/// The step a saga is working on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CurrentStep {
    /// Its index in the definition.
    pub index: u32,
    /// Its name in the definition.
    pub name: String,
    /// Whether its action or its compensation is being worked on (or is stuck).
    pub direction: Direction,
}

/// The answer to [`Executor::status`].
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
    /// The step being worked on, if any (none once finished, or when the saga belongs to another
    /// definition or version than this executor's).
    pub current_step: Option<CurrentStep>,
    /// Every recorded transition, oldest first.
    pub history: Vec<HistoryEntry>,
    /// Log version.
    pub version: u64,
}

impl<D: SagaData> Executor<D> {
    /// The saga's state, current step and history.
    ///
    /// # Errors
    /// [`Error::UnknownSaga`](crate::Error::UnknownSaga); log errors.
    pub async fn status(&self, id: SagaId) -> Result<SagaStatus> {
        let snapshot = self.load(id).await?;
        let inst = &snapshot.instance;
        let def = &self.inner.def;
        let same_def = inst.definition == *def.name && inst.definition_version == def.version;
        let name = |i: u32| {
            def.step_name(i)
                .filter(|_| same_def)
                .map_or_else(|| format!("step {i}"), str::to_owned)
        };
        let steps = def.steps.len();
        let current_step = if same_def {
            replay(id, &snapshot.records, steps, def.commit_point)?
                .phase
                .current(steps)
                .map(|(i, direction)| {
                    let index = u32::try_from(i).unwrap_or(u32::MAX);
                    CurrentStep {
                        index,
                        name: name(index),
                        direction,
                    }
                })
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
