//! Writes that run to completion whoever stops waiting for them.
//!
//! A saga's driver can be dropped mid-write: `SagaHandle::abort`, a runtime shutting down, a caller's
//! timeout around `recover`. If the write's own future were dropped with it while a transaction is
//! being begun, sqlx (0.8.x) can hand the connection back to the pool with the transaction still open
//! — on SQLite a `BEGIN IMMEDIATE` that holds the database's write lock for good, so every later
//! writer waits forever (the SQLite survivor crash test hung on exactly this). The SQLite and MySQL logs
//! therefore run each transaction on a task of its own: dropping the caller only stops the waiting; the
//! transaction is committed or rolled back either way, and the caller's driver, being gone, does not
//! act on the result (recovery reads the log).

use std::future::Future;

use saga::LogError;

/// Runs `write` on a task of its own and returns its result; a panic or a runtime that cancels the
/// task is a transient [`LogError::Backend`].
pub(crate) async fn to_completion<T: Send + 'static>(
    backend: &'static str,
    write: impl Future<Output = Result<T, LogError>> + Send + 'static,
) -> Result<T, LogError> {
    match tokio::spawn(write).await {
        Ok(result) => result,
        Err(e) => Err(LogError::Backend {
            backend,
            message: if e.is_panic() {
                "the write's task panicked".to_owned()
            } else {
                "the write's task was cancelled (the runtime is shutting down)".to_owned()
            },
            transient: true,
            source: None,
        }),
    }
}
