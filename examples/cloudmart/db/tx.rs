//! [`Tx`]: one transaction on a service's database, whatever the backend, with its inbox.
//!
//! Statements are written once with `?` placeholders (rewritten to `$n` for PostgreSQL) and bound
//! from [`Arg`]s; rows are read column by column through [`Row`].

use std::sync::Arc;

use saga_sqlx::sqlx;
use saga_sqlx::InboxOutcome;

use super::open::Begun;
use super::{decode, encode, Answer, DbError, Key, Row};
use crate::cloudmart::crash_switch::CrashSwitch;
use crate::cloudmart::services::Service;

/// A statement argument.
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    /// An integer.
    Int(i64),
    /// A text.
    Text(&'a str),
    /// A text or NULL.
    OptText(Option<&'a str>),
}

macro_rules! bound {
    ($sql:expr, $args:expr) => {{
        let mut q = sqlx::query($sql);
        for a in $args {
            q = match *a {
                Arg::Int(v) => q.bind(v),
                Arg::Text(v) => q.bind(v),
                Arg::OptText(v) => q.bind(v),
            };
        }
        q
    }};
}

/// `?` placeholders as PostgreSQL's `$1, $2, …`.
#[cfg(feature = "postgres")]
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(c);
        }
    }
    out
}

/// One transaction of a service.
pub struct Tx {
    begun: Begun,
    service: Service,
    crash: Arc<CrashSwitch>,
}

impl std::fmt::Debug for Tx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx")
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl Tx {
    pub(super) fn new(begun: Begun, service: Service, crash: Arc<CrashSwitch>) -> Self {
        Self {
            begun,
            service,
            crash,
        }
    }

    /// Runs a statement; returns the rows it affected.
    ///
    /// # Errors
    /// The statement failed.
    pub async fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<u64, DbError> {
        Ok(match &mut self.begun {
            Begun::Sqlite(tx, _) => bound!(sql, args).execute(&mut **tx).await?.rows_affected(),
            #[cfg(feature = "postgres")]
            Begun::Postgres(tx, _) => {
                let sql = numbered(sql);
                bound!(&sql, args).execute(&mut **tx).await?.rows_affected()
            }
            #[cfg(feature = "mysql")]
            Begun::MySql(tx, _) => bound!(sql, args).execute(&mut **tx).await?.rows_affected(),
        })
    }

    /// Runs a query; returns its rows.
    ///
    /// # Errors
    /// The query failed.
    pub async fn fetch(&mut self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Row>, DbError> {
        Ok(match &mut self.begun {
            Begun::Sqlite(tx, _) => bound!(sql, args)
                .fetch_all(&mut **tx)
                .await?
                .into_iter()
                .map(Row::Sqlite)
                .collect(),
            #[cfg(feature = "postgres")]
            Begun::Postgres(tx, _) => {
                let sql = numbered(sql);
                bound!(&sql, args)
                    .fetch_all(&mut **tx)
                    .await?
                    .into_iter()
                    .map(Row::Postgres)
                    .collect()
            }
            #[cfg(feature = "mysql")]
            Begun::MySql(tx, _) => bound!(sql, args)
                .fetch_all(&mut **tx)
                .await?
                .into_iter()
                .map(Row::MySql)
                .collect(),
        })
    }

    /// Locks the row `id` of `table` (a table with the one column `id`, created here if missing) until
    /// this transaction ends, so operations on one order that read before they write run one after
    /// the other (SQLite's one connection already serializes them).
    ///
    /// # Errors
    /// The statements failed.
    pub async fn lock(&mut self, table: &str, id: &str) -> Result<(), DbError> {
        let insert = match &self.begun {
            Begun::Sqlite(..) => format!("INSERT OR IGNORE INTO {table} (id) VALUES (?)"),
            #[cfg(feature = "postgres")]
            Begun::Postgres(..) => {
                format!("INSERT INTO {table} (id) VALUES (?) ON CONFLICT (id) DO NOTHING")
            }
            #[cfg(feature = "mysql")]
            Begun::MySql(..) => format!("INSERT IGNORE INTO {table} (id) VALUES (?)"),
        };
        self.execute(&insert, &[Arg::Text(id)]).await?;
        if !matches!(self.begun, Begun::Sqlite(..)) {
            let select = format!("SELECT id FROM {table} WHERE id = ? FOR UPDATE");
            self.fetch(&select, &[Arg::Text(id)]).await?;
        }
        Ok(())
    }

    /// Records `key` with `reply` in this transaction's inbox.
    async fn record(&mut self, key: &Key, reply: &[u8]) -> Result<InboxOutcome, DbError> {
        let scope = format!("{}/{}", self.service.as_str(), key.channel);
        Ok(match &mut self.begun {
            Begun::Sqlite(tx, inbox) => {
                inbox
                    .with_scope(scope)
                    .record_in_tx(tx, &key.key, reply)
                    .await?
            }
            #[cfg(feature = "postgres")]
            Begun::Postgres(tx, inbox) => {
                inbox
                    .with_scope(scope)
                    .record_in_tx(tx, &key.key, reply)
                    .await?
            }
            #[cfg(feature = "mysql")]
            Begun::MySql(tx, inbox) => {
                inbox
                    .with_scope(scope)
                    .record_in_tx(tx, &key.key, reply)
                    .await?
            }
        })
    }

    /// The answer a committed execution stored under `key` (what this transaction wrote to find out is
    /// rolled back with it).
    pub(super) async fn lookup(&mut self, key: &Key) -> Result<Option<Answer>, DbError> {
        match self.record(key, &[]).await? {
            InboxOutcome::Duplicate { stored_reply } => Ok(Some(decode(&stored_reply)?)),
            _ => Ok(None),
        }
    }

    /// Records `key` with `answer` in this transaction and commits it with the business writes made
    /// so far: returns `(answer, true)`. If an earlier execution already recorded the key, rolls
    /// everything back instead and returns `(stored answer, false)`.
    ///
    /// # Errors
    /// The inbox or the commit failed.
    pub async fn finish(mut self, key: &Key, answer: Answer) -> Result<(Answer, bool), DbError> {
        match self.record(key, &encode(&answer)).await? {
            InboxOutcome::FirstTime => {
                self.commit().await?;
                Ok((answer, true))
            }
            InboxOutcome::Duplicate { stored_reply } => {
                self.rollback().await?;
                Ok((decode(&stored_reply)?, false))
            }
            other => Err(DbError::Corrupt(format!("unknown inbox outcome {other:?}"))),
        }
    }

    /// Commits. A process that crashed (a tripped [`CrashSwitch`]) commits nothing more: the call
    /// never returns and the transaction is rolled back when its task is dropped.
    ///
    /// # Errors
    /// The commit failed.
    pub async fn commit(self) -> Result<(), DbError> {
        self.crash.gate().await;
        match self.begun {
            Begun::Sqlite(tx, _) => tx.commit().await?,
            #[cfg(feature = "postgres")]
            Begun::Postgres(tx, _) => tx.commit().await?,
            #[cfg(feature = "mysql")]
            Begun::MySql(tx, _) => tx.commit().await?,
        }
        Ok(())
    }

    /// Rolls back.
    ///
    /// # Errors
    /// The rollback failed.
    pub async fn rollback(self) -> Result<(), DbError> {
        match self.begun {
            Begun::Sqlite(tx, _) => tx.rollback().await?,
            #[cfg(feature = "postgres")]
            Begun::Postgres(tx, _) => tx.rollback().await?,
            #[cfg(feature = "mysql")]
            Begun::MySql(tx, _) => tx.rollback().await?,
        }
        Ok(())
    }
}
