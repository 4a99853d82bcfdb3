//! Reading rows of every backend alike: [`Columns`] says how one backend stores ids and text; the
//! instance, record and snapshot decoding on top of it is shared.

use saga::log::{Claimed, Lease, SagaInstance, SagaSnapshot};
use saga::{LogError, SagaId, SagaState};

use super::{InstanceRow, RecordRow};
use crate::error::{decode_error, log_error};

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

/// `(version, fence, state)` of the row an append did not match, if there is one, for
/// [`diagnose`](super::diagnose).
pub(crate) fn current(
    backend: &'static str,
    row: Option<impl Columns>,
) -> Result<Option<(i64, i64, String)>, LogError> {
    row.map(|r| Ok((r.int("version")?, r.int("fence")?, r.string("state")?)))
        .transpose()
        .map_err(|e| log_error(backend, e))
}

/// The instances of `rows`; a row that does not decode is [`LogError::Corrupt`].
pub(crate) fn instances(
    backend: &'static str,
    rows: &[impl Columns],
) -> Result<Vec<SagaInstance>, LogError> {
    rows.iter()
        .map(|r| {
            let id = r.saga_id("id").map_err(|e| log_error(backend, e))?;
            InstanceRow::decode(r)
                .map_err(|e| decode_error(backend, id, e))?
                .into_instance()
        })
        .collect()
}

/// The snapshot of saga `id` from the rows of a load: the instance columns on every row, joined with
/// its records (`seq` is null on the one row of a saga without records). `None` without rows. Rows
/// that do not decode (a value out of range, an unknown state or kind, a column of the wrong type, text
/// that is not UTF-8) are [`LogError::Corrupt`].
pub(crate) fn loaded(
    backend: &'static str,
    id: SagaId,
    rows: &[impl Columns],
) -> Result<Option<SagaSnapshot>, LogError> {
    let bad = |e| decode_error(backend, id, e);
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let instance = InstanceRow::decode(first).map_err(bad)?.into_instance()?;
    let mut records = Vec::with_capacity(rows.len());
    for row in rows {
        if row.opt_int("seq").map_err(bad)?.is_some() {
            records.push(RecordRow::decode(row).map_err(bad)?.into_record(id)?);
        }
    }
    Ok(Some(SagaSnapshot { instance, records }))
}

/// `rows` (ordered by saga id) split into the runs of each saga, by their `id` column.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) fn by_saga<'r, R: Columns>(
    backend: &'static str,
    rows: &'r [R],
) -> Result<Vec<(SagaId, &'r [R])>, LogError> {
    let mut out: Vec<(SagaId, &'r [R])> = Vec::new();
    let mut start = 0;
    for (n, row) in rows.iter().enumerate() {
        let id = row.saga_id("id").map_err(|e| log_error(backend, e))?;
        match out.last_mut() {
            Some((last, run)) if *last == id => *run = &rows[start..=n],
            _ => {
                start = n;
                out.push((id, &rows[n..=n]));
            }
        }
    }
    Ok(out)
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
