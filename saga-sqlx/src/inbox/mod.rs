//! The participant inbox: idempotency keys recorded in the participant's own database.
//!
//! Delivery of saga commands is at-least-once: after a crash or a lost reply the orchestrator sends the
//! same command again, with the same [`IdempotencyKey`]. A participant whose effect lives in a SQL
//! database gets exactly-once *effects* by recording the key **in the same transaction** as its business
//! write with [`Inbox::record_in_tx`]: either both commit or neither does, so a redelivery either finds
//! the key (and re-sends the stored reply) or runs as if for the first time.
//!
//! ```no_run
//! # #[cfg(feature = "sqlite")]
//! # async fn handle(log: &saga_sqlx::SqliteSagaLog, app: &saga_sqlx::sqlx::SqlitePool, key: saga::IdempotencyKey) -> Result<Vec<u8>, saga_sqlx::Error> {
//! use saga_sqlx::InboxOutcome;
//! let inbox = log.inbox("payments");
//! // The participant's own pool (to the same database), not `log.pool()`: see below.
//! let mut tx = app.begin().await.map_err(saga_sqlx::Error::from)?;
//! let reply = b"charged".to_vec();
//! match inbox.record_in_tx(&mut tx, &key, &reply).await? {
//!     InboxOutcome::FirstTime => {
//!         sqlx::query("UPDATE wallets SET balance = balance - 100 WHERE id = 1")
//!             .execute(&mut *tx)
//!             .await
//!             .map_err(saga_sqlx::Error::from)?;
//!         tx.commit().await.map_err(saga_sqlx::Error::from)?;
//!         Ok(reply)
//!     }
//!     InboxOutcome::Duplicate { stored_reply } => Ok(stored_reply),
//!     _ => unreachable!("future outcomes"),
//! }
//! # }
//! ```
//!
//! **Give handlers a pool of their own** (a second `sqlx::Pool` to the same database) rather than
//! [`log.pool()`](crate::PostgresSagaLog::pool) when their futures can be cancelled (a timeout, a
//! shutdown, an aborted task): with sqlx 0.8.4 to 0.9.0, a `begin()` cancelled on PostgreSQL while its
//! `BEGIN` is in flight returns the connection to its pool inside a transaction nothing ends (sqlx
//! issues #4385 and #4393, fixed upstream but not released as of this version). Whatever runs next on
//! that connection joins the transaction; on the log's pool that would be the log's own writes,
//! acknowledged and then lost when the connection closes. The log's writes on PostgreSQL are single
//! statements; its one transaction there is `migrate`'s.
//!
//! The same table also backs [`saga::IdempotencyStore`] (claim / complete / release with a lease), which
//! the participant runtime uses when the effect is not in this database.

mod store;

use std::sync::Arc;

use saga::IdempotencyKey;

use crate::schema::Tables;

/// What [`Inbox::record_in_tx`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InboxOutcome {
    /// The key is new: apply the effect in the same transaction, then commit.
    FirstTime,
    /// The key was recorded by an earlier, committed execution: do not apply the effect again; answer
    /// with the reply stored then.
    Duplicate {
        /// The reply recorded with the key.
        stored_reply: Vec<u8>,
    },
}

/// A participant's inbox in the `<prefix>saga_inbox` table, for one scope (usually the participant's
/// name). Built by `inbox(scope)` on a log. Cheap to clone.
///
/// `DB` is the sqlx database (`sqlx::Postgres`, `sqlx::MySql`, `sqlx::Sqlite`).
pub struct Inbox<DB: sqlx::Database> {
    pub(crate) pool: sqlx::Pool<DB>,
    pub(crate) tables: Arc<Tables>,
    pub(crate) scope: String,
}

impl<DB: sqlx::Database> Clone for Inbox<DB> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            tables: Arc::clone(&self.tables),
            scope: self.scope.clone(),
        }
    }
}

impl<DB: sqlx::Database> std::fmt::Debug for Inbox<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inbox")
            .field("table", &self.tables.inbox)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl<DB: sqlx::Database> Inbox<DB> {
    pub(crate) fn new(pool: sqlx::Pool<DB>, tables: Arc<Tables>, scope: impl Into<String>) -> Self {
        Self {
            pool,
            tables,
            scope: scope.into(),
        }
    }

    /// The scope keys are recorded under.
    #[must_use]
    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// The same inbox for another scope.
    #[must_use]
    pub fn with_scope(&self, scope: impl Into<String>) -> Self {
        Self {
            scope: scope.into(),
            ..self.clone()
        }
    }
}

/// The stored text form of a key.
pub(crate) fn key_text(key: &IdempotencyKey) -> String {
    key.to_string()
}

/// What a stored inbox row says about its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stored {
    /// `claimed`: an execution holds (or held) the key's lease.
    Claimed,
    /// `done`, with the stored reply's status.
    Done(saga::transport::ReplyStatus),
}

/// Parses the `status` and `reply_status` columns of an inbox row. A status this crate never writes (or
/// a `done` row without a known reply status) makes the row corrupt: the error says so and names the
/// key, and callers fail with it instead of guessing "ok" or "in progress".
pub(crate) fn stored(
    backend: &'static str,
    key: &str,
    status: Option<&str>,
    reply: Option<&str>,
) -> Result<Stored, String> {
    use saga::transport::ReplyStatus;
    let corrupt = |what: &str, value: Option<&str>| {
        let value: Option<String> = value.map(|v| v.chars().take(32).collect());
        format!("{backend}: corrupt inbox row for key {key}: unknown {what} {value:?}")
    };
    match status {
        Some("claimed") => Ok(Stored::Claimed),
        Some("done") => [ReplyStatus::Ok, ReplyStatus::Rejected, ReplyStatus::Failed]
            .into_iter()
            .find(|st| Some(st.as_str()) == reply)
            .map(Stored::Done)
            .ok_or_else(|| corrupt("reply status", reply)),
        other => Err(corrupt("status", other)),
    }
}
