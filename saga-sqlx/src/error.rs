//! The crate's error type and the classification of sqlx errors.

use saga::participant::StoreError;
use saga::LogError;

/// Errors of `saga-sqlx` outside the [`SagaLog`](saga::SagaLog) calls (which return [`LogError`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The table prefix does not match `[a-z_][a-z0-9_]{0,30}` (lower case only, so that a prefix names
    /// the same tables on every backend).
    #[error("invalid table prefix {prefix:?}: {reason} (expected [a-z_][a-z0-9_]{{0,30}})")]
    InvalidTablePrefix {
        /// The rejected prefix (truncated).
        prefix: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// Opening the database failed. `url` has its password redacted.
    #[error("cannot connect to {backend} at {url}: {message}")]
    Connect {
        /// `"postgres"`, `"mysql"` or `"sqlite"`.
        backend: &'static str,
        /// The URL with its password replaced by `***`.
        url: String,
        /// The driver's message, credentials removed.
        message: String,
        /// Whether retrying may succeed (the server was unreachable or busy).
        transient: bool,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// Applying the embedded migrations failed.
    #[error("migration {version} of {backend} failed: {message}")]
    Migrate {
        /// The backend.
        backend: &'static str,
        /// The migration that failed.
        version: i64,
        /// What failed.
        message: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A stored row does not decode (a value this crate never writes, e.g. an unknown inbox status):
    /// the row was changed by hand or by another program. Not transient.
    #[error("{backend}: {message}")]
    Corrupt {
        /// The backend.
        backend: &'static str,
        /// What did not decode (bounded; never the stored payload).
        message: String,
    },
    /// A database call failed (outside the saga log contract, e.g. in the inbox).
    #[error("{backend} error: {message}")]
    Database {
        /// The backend.
        backend: &'static str,
        /// What failed.
        message: String,
        /// Whether retrying may succeed.
        transient: bool,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
}

impl Error {
    /// Whether retrying the same call may succeed.
    #[must_use]
    pub const fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Connect {
                transient: true,
                ..
            } | Self::Database {
                transient: true,
                ..
            }
        )
    }

    pub(crate) fn database(backend: &'static str, source: sqlx::Error) -> Self {
        Self::Database {
            backend,
            message: source.to_string(),
            transient: is_transient(&source),
            source,
        }
    }
}

impl From<sqlx::Error> for Error {
    /// A [`Error::Database`] with backend `"sqlx"`, for `?` in code around the [`Inbox`](crate::Inbox).
    fn from(source: sqlx::Error) -> Self {
        Self::database("sqlx", source)
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Whether a sqlx error is worth retrying: lost connections, pool timeouts, deadlocks, serialization
/// failures, lock timeouts and `SQLITE_BUSY`/`SQLITE_LOCKED`.
#[must_use]
pub fn is_transient(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| transient_code(&code, db.as_ref())),
        _ => false,
    }
}

#[allow(unused_variables)]
fn transient_code(code: &str, db: &dyn sqlx::error::DatabaseError) -> bool {
    #[cfg(feature = "mysql")]
    if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        // 1205 lock wait timeout, 1213 deadlock, 1040 too many connections, 2006/2013 server gone.
        return matches!(my.number(), 1205 | 1213 | 1040 | 2006 | 2013 | 1927 | 4031);
    }
    #[cfg(feature = "sqlite")]
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        // Primary result codes: 5 SQLITE_BUSY, 6 SQLITE_LOCKED (extended codes keep them in the low byte).
        return code.parse::<i32>().is_ok_and(|c| matches!(c & 0xff, 5 | 6));
    }
    // PostgreSQL SQLSTATEs: serialization failure, deadlock, connection exceptions, shutdown, too many
    // connections, lock not available.
    code == "40001"
        || code == "40P01"
        || code.starts_with("08")
        || code.starts_with("57P")
        || code == "53300"
        || code == "55P03"
}

/// Maps a sqlx error to the [`LogError::Backend`] of the saga log contract.
pub(crate) fn log_error(backend: &'static str, error: sqlx::Error) -> LogError {
    LogError::Backend {
        backend,
        message: error.to_string(),
        transient: is_transient(&error),
        source: Some(Box::new(error)),
    }
}

/// Maps a sqlx error to the participant runtime's [`StoreError`].
pub(crate) fn store_error(backend: &'static str, error: sqlx::Error) -> StoreError {
    let message = format!("{backend}: {error}");
    if is_transient(&error) {
        StoreError::transient(message)
    } else {
        StoreError::permanent(message)
    }
    .with_source(error)
}

/// The error for a column of saga `saga_id` that sqlx could not read: [`LogError::Corrupt`] when the
/// stored value does not decode (wrong type, not UTF-8, out of range), [`LogError::Backend`] otherwise.
pub(crate) fn decode_error(
    backend: &'static str,
    saga_id: saga::SagaId,
    error: sqlx::Error,
) -> LogError {
    match error {
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
            corrupt(saga_id, error.to_string())
        }
        other => log_error(backend, other),
    }
}

/// A stored value out of range or unparseable.
pub(crate) fn corrupt(saga_id: saga::SagaId, message: impl Into<String>) -> LogError {
    LogError::Corrupt {
        saga_id,
        message: message.into(),
    }
}
