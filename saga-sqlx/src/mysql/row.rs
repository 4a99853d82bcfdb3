//! Column values of [`MySqlSagaLog`](super::MySqlSagaLog) rows: ids as `BINARY(16)`, text as bytes.

use saga::SagaId;
use sqlx::mysql::MySqlRow;
use sqlx::Row;

use crate::rows;

/// Reads a text column. Columns use `utf8mb4_bin` (exact comparisons), which the driver reports as
/// binary, so text is decoded from bytes.
fn text(row: &MySqlRow, column: &str) -> Result<Option<String>, sqlx::Error> {
    row.try_get::<Option<Vec<u8>>, _>(column)?
        .map(|b| String::from_utf8(b).map_err(|e| sqlx::Error::Decode(Box::new(e))))
        .transpose()
}

/// A saga id as its `BINARY(16)` column value.
pub(super) fn bin(id: SagaId) -> Vec<u8> {
    id.as_uuid().as_bytes().to_vec()
}

/// A `BINARY(16)` saga id column.
fn saga_id(row: &MySqlRow, column: &str) -> Result<SagaId, sqlx::Error> {
    uuid::Uuid::from_slice(&row.try_get::<Vec<u8>, _>(column)?)
        .map(SagaId::from_uuid)
        .map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// A `NOT NULL` text column (empty if null).
fn string(row: &MySqlRow, column: &str) -> Result<String, sqlx::Error> {
    Ok(text(row, column)?.unwrap_or_default())
}

rows::columns!(MySqlRow, saga_id: saga_id, string: string, text: text);
