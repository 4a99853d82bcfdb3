//! Conversions between saga records and the column values every backend stores.

use bytes::Bytes;
use saga::log::{Append, Claimed, ConflictKind, Lease, LogRecord, SagaInstance, SagaSnapshot};
use saga::{LogError, LogEvent, SagaId, SagaState};

use crate::error::{corrupt, log_error};

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
            unsigned(id, "version", self.version)?,
            self.owner,
            unsigned(id, "fence", self.fence)?,
            self.deadline_at_ms
                .map(|d| unsigned(id, "deadline", d))
                .transpose()?,
            unsigned(id, "created_at_ms", self.created_at_ms)?,
            unsigned(id, "updated_at_ms", self.updated_at_ms)?,
        ))
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
        let event = LogEvent::from_parts(
            &self.kind,
            self.step.map(|s| small(id, "step", s)).transpose()?,
            self.attempt.map(|a| small(id, "attempt", a)).transpose()?,
            self.detail,
            self.payload.map(Bytes::from),
        )
        .map_err(|e| corrupt(id, e.to_string()))?;
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
                kind: p.kind,
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

/// Groups records (ordered by saga then seq) under their instances.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) fn snapshots(
    instances: Vec<SagaInstance>,
    mut records: Vec<(SagaId, LogRecord)>,
) -> Vec<saga::log::SagaSnapshot> {
    records.sort_by_key(|(id, r)| (*id, r.seq));
    let mut out = Vec::with_capacity(instances.len());
    for instance in instances {
        let start = records.partition_point(|(id, _)| *id < instance.id);
        let end = records.partition_point(|(id, _)| *id <= instance.id);
        let recs = records[start..end].iter().map(|(_, r)| r.clone()).collect();
        out.push(saga::log::SagaSnapshot {
            instance,
            records: recs,
        });
    }
    out
}

/// Reads the columns of one backend's rows by name: ids and text as that backend stores them, integers
/// and bytes as they are. Implemented with [`columns!`].
pub(crate) trait Columns {
    /// A saga id column.
    fn saga_id(&self, column: &str) -> Result<SagaId, sqlx::Error>;
    /// A `NOT NULL` text column.
    fn string(&self, column: &str) -> Result<String, sqlx::Error>;
    /// A nullable text column.
    fn text(&self, column: &str) -> Result<Option<String>, sqlx::Error>;
    /// A `NOT NULL` integer column.
    fn int(&self, column: &str) -> Result<i64, sqlx::Error>;
    /// A nullable integer column.
    fn opt_int(&self, column: &str) -> Result<Option<i64>, sqlx::Error>;
    /// A nullable bytes column.
    fn bytes(&self, column: &str) -> Result<Option<Vec<u8>>, sqlx::Error>;
}

/// Implements [`Columns`] for a row type: `saga_id` by the given function, integers and bytes by
/// `try_get`, text by `try_get` or by the given `string`/`text` functions.
macro_rules! columns {
    ($row:ty, saga_id: $id:expr) => {
        $crate::rows::columns!($row, saga_id: $id, string: sqlx::Row::try_get, text: sqlx::Row::try_get);
    };
    ($row:ty, saga_id: $id:expr, string: $string:expr, text: $text:expr) => {
        impl $crate::rows::Columns for $row {
            fn saga_id(&self, column: &str) -> Result<saga::SagaId, sqlx::Error> {
                $id(self, column)
            }
            fn string(&self, column: &str) -> Result<String, sqlx::Error> {
                $string(self, column)
            }
            fn text(&self, column: &str) -> Result<Option<String>, sqlx::Error> {
                $text(self, column)
            }
            fn int(&self, column: &str) -> Result<i64, sqlx::Error> {
                sqlx::Row::try_get(self, column)
            }
            fn opt_int(&self, column: &str) -> Result<Option<i64>, sqlx::Error> {
                sqlx::Row::try_get(self, column)
            }
            fn bytes(&self, column: &str) -> Result<Option<Vec<u8>>, sqlx::Error> {
                sqlx::Row::try_get(self, column)
            }
        }
    };
}
pub(crate) use columns;

impl InstanceRow {
    /// The columns of an instance row (`id` and the instance columns).
    pub(crate) fn decode(row: &impl Columns) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.saga_id("id")?,
            definition: row.string("definition")?,
            definition_version: row.int("definition_version")?,
            state: row.string("state")?,
            version: row.int("version")?,
            owner: row.text("owner")?,
            fence: row.int("fence")?,
            deadline_at_ms: row.opt_int("deadline_at_ms")?,
            created_at_ms: row.int("created_at_ms")?,
            updated_at_ms: row.int("updated_at_ms")?,
        })
    }
}

impl RecordRow {
    /// The columns of a record row.
    pub(crate) fn decode(row: &impl Columns) -> Result<Self, sqlx::Error> {
        Ok(Self {
            seq: row.int("seq")?,
            at_ms: row.int("at_ms")?,
            kind: row.string("kind")?,
            step: row.opt_int("step")?,
            attempt: row.opt_int("attempt")?,
            detail: row.text("detail")?,
            payload: row.bytes("payload")?,
        })
    }
}

/// `(version, fence, state)` of the row an append did not match, if there is one, for [`diagnose`].
pub(crate) fn current(
    backend: &'static str,
    row: Option<impl Columns>,
) -> Result<Option<(i64, i64, String)>, LogError> {
    row.map(|r| Ok((r.int("version")?, r.int("fence")?, r.string("state")?)))
        .transpose()
        .map_err(|e| log_error(backend, e))
}

/// The instances of `rows`.
pub(crate) fn instances(
    backend: &'static str,
    rows: &[impl Columns],
) -> Result<Vec<SagaInstance>, LogError> {
    rows.iter()
        .map(|r| {
            InstanceRow::decode(r)
                .map_err(|e| log_error(backend, e))?
                .into_instance()
        })
        .collect()
}

/// The records of saga `id` in `rows`.
pub(crate) fn records(
    backend: &'static str,
    id: SagaId,
    rows: &[impl Columns],
) -> Result<Vec<LogRecord>, LogError> {
    rows.iter()
        .map(|r| {
            RecordRow::decode(r)
                .map_err(|e| log_error(backend, e))?
                .into_record(id)
        })
        .collect()
}

/// The snapshot of saga `id` from the rows of a load: the instance columns on every row, joined with
/// its records (`seq` is null on the one row of a saga without records). `None` without rows.
pub(crate) fn loaded(
    backend: &'static str,
    id: SagaId,
    rows: &[impl Columns],
) -> Result<Option<SagaSnapshot>, LogError> {
    let db = |e| log_error(backend, e);
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let instance = InstanceRow::decode(first).map_err(db)?.into_instance()?;
    let mut records = Vec::with_capacity(rows.len());
    for row in rows {
        if row.opt_int("seq").map_err(db)?.is_some() {
            records.push(RecordRow::decode(row).map_err(db)?.into_record(id)?);
        }
    }
    Ok(Some(SagaSnapshot { instance, records }))
}

/// A claimed saga: its snapshot under the lease of its current fence.
pub(crate) fn claimed(snapshot: SagaSnapshot) -> Claimed {
    Claimed {
        lease: Lease {
            fence: snapshot.instance.fence,
        },
        snapshot,
    }
}

/// The states filter of a list as `,a,b,` (empty for all states), for a `LIKE`/`INSTR` match.
#[cfg_attr(not(any(feature = "mysql", feature = "sqlite")), allow(dead_code))]
pub(crate) fn state_list(states: &[SagaState]) -> String {
    if states.is_empty() {
        String::new()
    } else {
        let names: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
        format!(",{},", names.join(","))
    }
}
