//! Each service's own SQL database: a SQLite file or in-memory database by default, or a schema
//! (PostgreSQL) / database (MariaDB) of its own on a server named by `--db URL`.
//!
//! The services write their tables through [`Tx`], and record every command's idempotency key in the
//! same transaction with the database's [`saga_sqlx::Inbox`] ([`Tx::finish`]), so a redelivered command
//! finds its stored answer instead of applying its effect again.

mod open;
mod row;
mod tx;

use std::path::PathBuf;
use std::sync::Arc;

use saga::transport::MessageId;
use saga::{Direction, IdempotencyKey, SagaId};

pub use row::Row;
pub use tx::{Arg, Tx};

use crate::cloudmart::crash_switch::CrashSwitch;
use crate::cloudmart::services::Service;

/// A database failure of a service.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// A statement failed.
    #[error("sql: {0}")]
    Sql(#[from] saga_sqlx::sqlx::Error),
    /// The inbox (or its migration) failed.
    #[error("inbox: {0}")]
    Inbox(#[from] saga_sqlx::Error),
    /// A row or a stored reply does not hold what CloudMart writes.
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// `--db` names a database CloudMart cannot use.
    #[error(
        "unsupported --db {0}: expected postgres://… or mysql://… (feature `postgres`/`mysql`)"
    )]
    Unsupported(String),
}

/// Where the services keep their state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbSpec {
    /// A private in-memory SQLite database per service: nothing survives the process (used where no
    /// crash is simulated).
    Memory,
    /// SQLite files `<dir>/<name>-<service>.db`.
    Dir(PathBuf),
    /// A PostgreSQL (`postgres://…`) or MariaDB/MySQL (`mysql://…`) server: each service in the schema
    /// (PostgreSQL) or database (MariaDB) `<name>_<service>`, created if missing.
    Server(String),
}

impl DbSpec {
    /// How to show it (no credentials).
    #[must_use]
    pub fn display(&self) -> String {
        match self {
            Self::Memory => "SQLite in memory".into(),
            Self::Dir(dir) => format!("SQLite files in {}", dir.display()),
            Self::Server(url) => crate::cloudmart::logs::redact(url),
        }
    }
}

/// A service's stored answer to a command: `Ok(detail)` or `Err(refusal)`.
pub type Answer = Result<String, String>;

/// The idempotency key of one service operation, and the inbox scope it is recorded under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    channel: &'static str,
    key: IdempotencyKey,
}

impl Key {
    /// The key of an orchestrated command (the executor's key: saga, step, direction).
    #[must_use]
    pub const fn command(key: IdempotencyKey) -> Self {
        Self {
            channel: "command",
            key,
        }
    }

    /// The key of a choreography reaction `step` (forward or compensating) of event chain `saga`.
    #[must_use]
    pub const fn event(saga: SagaId, step: u32, direction: Direction) -> Self {
        Self {
            channel: "event",
            key: IdempotencyKey::new(saga, step, direction),
        }
    }

    /// The key of a direct HTTP call, from its text (an `Idempotency-Key` header or one per order and
    /// operation), mapped onto the inbox's key space by the same stable hash as derived message ids.
    #[must_use]
    pub fn http(text: &str) -> Self {
        let root = MessageId::from_uuid(uuid::Uuid::nil());
        let id = MessageId::derive(root, text, 0);
        Self {
            channel: "http",
            key: IdempotencyKey::new(SagaId::from_uuid(*id.as_uuid()), 0, Direction::Forward),
        }
    }
}

/// One service's database.
#[derive(Debug, Clone)]
pub struct Db {
    pool: open::Pool,
    service: Service,
    crash: Arc<CrashSwitch>,
}

impl Db {
    /// Opens (creating if missing) the database of `service` in world `name` under `spec`, and runs
    /// `schema` (`CREATE TABLE IF NOT EXISTS …` statements) and the inbox's migrations.
    ///
    /// # Errors
    /// The database cannot be reached or created, or a statement failed.
    pub async fn open(
        spec: &DbSpec,
        name: &str,
        service: Service,
        crash: Arc<CrashSwitch>,
        schema: &[&str],
    ) -> Result<Self, DbError> {
        let pool = open::Pool::open(spec, name, service).await?;
        let db = Self {
            pool,
            service,
            crash,
        };
        // One transaction (one commit to sync) where DDL is transactional; MariaDB commits each.
        let mut tx = db.begin().await?;
        for statement in schema {
            tx.execute(statement, &[]).await?;
        }
        tx.commit().await?;
        Ok(db)
    }

    /// The crash switch of the process.
    #[must_use]
    pub fn crash(&self) -> &CrashSwitch {
        &self.crash
    }

    /// Starts a transaction.
    ///
    /// # Errors
    /// No connection.
    pub async fn begin(&self) -> Result<Tx, DbError> {
        Ok(Tx::new(
            self.pool.begin().await?,
            self.service,
            Arc::clone(&self.crash),
        ))
    }

    /// Runs one query in a transaction of its own and returns its rows.
    ///
    /// # Errors
    /// The query failed.
    pub async fn read(&self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Row>, DbError> {
        let mut tx = self.begin().await?;
        let rows = tx.fetch(sql, args).await?;
        tx.rollback().await?;
        Ok(rows)
    }

    /// The answer stored under `key`, if a committed execution recorded one (nothing is written).
    ///
    /// # Errors
    /// The inbox could not be read.
    pub async fn seen(&self, key: &Key) -> Result<Option<Answer>, DbError> {
        let mut tx = self.begin().await?;
        let stored = tx.lookup(key).await?;
        tx.rollback().await?;
        Ok(stored)
    }

    /// ` FOR UPDATE` where the backend locks rows read for a later write (SQLite serializes its writers
    /// on its one connection instead).
    #[must_use]
    pub fn for_update(&self) -> &'static str {
        self.pool.for_update()
    }

    /// Closes the connections.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Deletes the database (the SQLite files, the PostgreSQL schema or the MariaDB database).
    pub async fn destroy(&self) {
        if let Err(e) = self.pool.destroy().await {
            eprintln!("cleanup of the {} database: {e}", self.service.as_str());
        }
    }
}

/// Encodes an answer as the inbox's stored reply.
pub(crate) fn encode(answer: &Answer) -> Vec<u8> {
    serde_json::to_vec(answer).unwrap_or_default()
}

/// Decodes a stored reply.
pub(crate) fn decode(reply: &[u8]) -> Result<Answer, DbError> {
    serde_json::from_slice(reply).map_err(|e| DbError::Corrupt(format!("stored reply: {e}")))
}

/// The name of world `name`'s database for `service`: `[a-z0-9_]`, starting with a letter, at most 60
/// characters (a valid unquoted identifier on PostgreSQL and MariaDB).
pub(crate) fn db_name(name: &str, service: Service) -> String {
    let prefix = if name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        ""
    } else {
        "cm_"
    };
    let clean: String = name
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '_') => c,
            _ => '_',
        })
        .collect();
    // Truncate the world's part, never the service's: two services must not share a name.
    let room = 60 - prefix.len() - service.as_str().len() - 1;
    let clean: String = clean.chars().take(room).collect();
    format!("{prefix}{clean}_{}", service.as_str())
}
