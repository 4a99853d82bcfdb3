//! [`Row`]: a result row of any backend, read column by column.

use saga_sqlx::sqlx::{self, Row as _};

use super::DbError;

/// A result row of any backend.
pub enum Row {
    /// SQLite.
    Sqlite(sqlx::sqlite::SqliteRow),
    /// PostgreSQL.
    #[cfg(feature = "postgres")]
    Postgres(sqlx::postgres::PgRow),
    /// MariaDB/MySQL.
    #[cfg(feature = "mysql")]
    MySql(sqlx::mysql::MySqlRow),
}

impl std::fmt::Debug for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Row").finish_non_exhaustive()
    }
}

macro_rules! column {
    ($row:expr, $i:expr, $t:ty) => {
        match $row {
            Row::Sqlite(r) => r.try_get::<$t, _>($i),
            #[cfg(feature = "postgres")]
            Row::Postgres(r) => r.try_get::<$t, _>($i),
            #[cfg(feature = "mysql")]
            Row::MySql(r) => r.try_get::<$t, _>($i),
        }
    };
}

impl Row {
    /// Column `i` as an integer.
    ///
    /// # Errors
    /// NULL or not an integer.
    pub fn int(&self, i: usize) -> Result<i64, DbError> {
        Ok(column!(self, i, i64)?)
    }

    /// Column `i` as a non-negative integer that fits `T`.
    ///
    /// # Errors
    /// As [`int`](Self::int), or out of range.
    pub fn count<T: TryFrom<i64>>(&self, i: usize) -> Result<T, DbError> {
        let v = self.int(i)?;
        T::try_from(v).map_err(|_| DbError::Corrupt(format!("column {i}: {v} out of range")))
    }

    /// Column `i` as a text.
    ///
    /// # Errors
    /// NULL or not a text.
    pub fn text(&self, i: usize) -> Result<String, DbError> {
        Ok(column!(self, i, String)?)
    }

    /// Column `i` as a text or NULL.
    ///
    /// # Errors
    /// Not a text.
    pub fn opt_text(&self, i: usize) -> Result<Option<String>, DbError> {
        Ok(column!(self, i, Option<String>)?)
    }
}
