//! Conversions between saga records and the column values every backend stores.

mod decode;

#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) use decode::by_saga;
#[cfg_attr(not(any(feature = "mysql", feature = "sqlite")), allow(unused_imports))]
pub(crate) use decode::{claimed, columns, current, instances, loaded, state_list, Columns};

use bytes::Bytes;
use saga::log::{
    Append, ConflictKind, EventKind, EventParts, LogRecord, MalformedEvent, SagaInstance,
};
use saga::{LogError, LogEvent, SagaId, SagaState};

use crate::error::corrupt;

/// The columns of a `saga_instances` row, id already decoded.
#[derive(Debug)]
pub(crate) struct InstanceRow {
    pub(crate) id: SagaId,
    pub(crate) definition: String,
    pub(crate) definition_version: i64,
    pub(crate) state: String,
    pub(crate) version: i64,
    pub(crate) owner: Option<String>,
    pub(crate) fence: i64,
    pub(crate) deadline_at_ms: Option<i64>,
    pub(crate) created_at_ms: i64,
    pub(crate) updated_at_ms: i64,
}

fn unsigned(id: SagaId, what: &str, v: i64) -> Result<u64, LogError> {
    u64::try_from(v).map_err(|_| corrupt(id, format!("negative {what} {v}")))
}

fn small(id: SagaId, what: &str, v: i64) -> Result<u32, LogError> {
    u32::try_from(v).map_err(|_| corrupt(id, format!("{what} {v} out of range")))
}

impl InstanceRow {
    pub(crate) fn into_instance(self) -> Result<SagaInstance, LogError> {
        let id = self.id;
        let state: SagaState = self
            .state
            .parse()
            .map_err(|e: saga::log::ParseStateError| corrupt(id, e.to_string()))?;
        Ok(SagaInstance::new(
            id,
            self.definition,
            small(id, "definition version", self.definition_version)?,
            state,
        )
        .with_version(unsigned(id, "version", self.version)?)
        .with_owner(self.owner)
        .with_fence(unsigned(id, "fence", self.fence)?)
        .with_deadline_at_ms(
            self.deadline_at_ms
                .map(|d| unsigned(id, "deadline", d))
                .transpose()?,
        )
        .with_created_at_ms(unsigned(id, "created_at_ms", self.created_at_ms)?)
        .with_updated_at_ms(unsigned(id, "updated_at_ms", self.updated_at_ms)?))
    }
}

/// The columns of a `saga_step_logs` row.
#[derive(Debug)]
pub(crate) struct RecordRow {
    pub(crate) seq: i64,
    pub(crate) at_ms: i64,
    pub(crate) kind: String,
    pub(crate) step: Option<i64>,
    pub(crate) attempt: Option<i64>,
    pub(crate) detail: Option<String>,
    pub(crate) payload: Option<Vec<u8>>,
}

impl RecordRow {
    pub(crate) fn into_record(self, id: SagaId) -> Result<LogRecord, LogError> {
        let kind: EventKind = self
            .kind
            .parse()
            .map_err(|e: MalformedEvent| corrupt(id, e.to_string()))?;
        let parts = EventParts::new(kind)
            .with_step(self.step.map(|s| small(id, "step", s)).transpose()?)
            .with_attempt(self.attempt.map(|a| small(id, "attempt", a)).transpose()?)
            .with_detail(self.detail)
            .with_payload(self.payload.map(Bytes::from));
        let event = LogEvent::from_parts(parts).map_err(|e| corrupt(id, e.to_string()))?;
        Ok(LogRecord {
            seq: unsigned(id, "seq", self.seq)?,
            at_ms: unsigned(id, "at_ms", self.at_ms)?,
            event,
        })
    }
}

/// An event split into the values to bind.
#[derive(Debug, Clone)]
pub(crate) struct EventRow {
    pub(crate) seq: i64,
    pub(crate) kind: &'static str,
    pub(crate) step: Option<i64>,
    pub(crate) attempt: Option<i64>,
    pub(crate) detail: Option<String>,
    pub(crate) payload: Option<Vec<u8>>,
}

/// The rows of an append's events, `seq` continuing from the expected version.
pub(crate) fn event_rows(expected_version: u64, events: &[LogEvent]) -> Vec<EventRow> {
    events
        .iter()
        .zip(1_i64..)
        .map(|(e, n)| {
            let p = e.to_parts();
            EventRow {
                seq: to_i64(expected_version).saturating_add(n),
                kind: p.kind.as_str(),
                step: p.step.map(i64::from),
                attempt: p.attempt.map(i64::from),
                detail: p.detail,
                payload: p.payload.map(|b| b.to_vec()),
            }
        })
        .collect()
}

/// Saturating conversion for binding.
pub(crate) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A duration in whole milliseconds, saturating.
pub(crate) fn millis(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Whether an append to `state` releases the lease.
pub(crate) fn releases_lease(state: SagaState) -> bool {
    state.is_terminal() || state == SagaState::Stuck
}

/// The error for an append that updated no row, from the row as it is now (`version`, `fence`, `state`).
pub(crate) fn diagnose(append: &Append<'_>, found: Option<(i64, i64, String)>) -> LogError {
    let Some((version, fence, state)) = found else {
        return LogError::NotFound { saga_id: append.id };
    };
    let actual = u64::try_from(version).ok();
    let kind = if u64::try_from(fence).ok() != Some(append.lease.fence) {
        ConflictKind::LeaseLost
    } else if actual != Some(append.expected_version) {
        ConflictKind::VersionMismatch
    } else if state.parse::<SagaState>().is_ok_and(SagaState::is_terminal) {
        ConflictKind::Finished
    } else {
        // The row changed between the update and this read: someone else wrote.
        ConflictKind::VersionMismatch
    };
    LogError::conflict(append.id, kind, append.expected_version, actual)
}

/// The error for a duplicate `create`.
pub(crate) fn already_exists(id: SagaId) -> LogError {
    LogError::conflict(id, ConflictKind::AlreadyExists, 0, None)
}
