//! [`SqliteSagaLog`]: the saga log in an SQLite file.

use std::str::FromStr;

use async_trait::async_trait;
use saga::log::{
    Append, ClaimRequest, Lease, ListQuery, NewSaga, OwnedAppend, SagaInstance, SagaSnapshot,
};
use saga::{LogError, SagaId, SagaLog};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqliteRow,
    SqliteSynchronous,
};
use sqlx::Row;

use crate::batch::WriteResult;
use crate::claim::{self, Target};
use crate::config::SqlLogConfig;
use crate::error::{log_error, Result};
use crate::log_core::{self, sql_log_api, LogCore};
use crate::migrate;
use crate::rows::{self, event_rows, millis, to_i64};
use crate::schema::Dialect;
use crate::secret::SecretUrl;

mod batch;
mod sql;

const BACKEND: &str = "sqlite";
const BEGIN: &str = "BEGIN IMMEDIATE";

fn db(e: sqlx::Error) -> LogError {
    log_error(BACKEND, e)
}

/// A [`SagaLog`] in an SQLite file: the embedded default, no server needed.
///
/// The file is created if missing and opened in WAL mode with `synchronous=NORMAL` and a busy timeout.
/// Writes go through one connection in `BEGIN IMMEDIATE` transactions, so writers never deadlock on a
/// lock upgrade, and claims by several processes sharing the file are exclusive. Each `create` and
/// `append` is one transaction; SQLite has no server-side commit counter, so [`stats`](Self::stats)
/// counts them.
///
/// By default the writes of concurrent sagas are batched into shared transactions
/// ([`SqlLogConfig::with_batching`]); a lone write still runs at once, on its own.
#[derive(Clone)]
pub struct SqliteSagaLog {
    core: LogCore<sqlx::Sqlite, sql::Statements>,
}

sql_log_api! {
    SqliteSagaLog, sqlx::Sqlite, SqlitePool, Dialect::Sqlite;
    /// Opens (creating if missing) the database at `url` (`sqlite://path/to/file.db`) and, unless turned
    /// off in `config`, runs the migrations.
    ///
    /// # Errors
    /// [`Error::InvalidTablePrefix`](crate::Error::InvalidTablePrefix),
    /// [`Error::Connect`](crate::Error::Connect), [`Error::Migrate`](crate::Error::Migrate).
    connect;
    /// The connection pool (one connection), e.g. for a participant's business transaction with the
    /// [`Inbox`](crate::Inbox).
    pool;
    /// The participant inbox in this database and table prefix, for `scope`.
    inbox;
    /// Commit counters of this log (and its clones): the SQLite commit counter of the benchmarks.
    stats;
}

impl SqliteSagaLog {
    /// One connection, WAL mode, `synchronous=NORMAL`, the configured busy timeout; the file is created
    /// if missing.
    async fn open(url: &str, config: &SqlLogConfig) -> Result<(SqlitePool, SecretUrl)> {
        let options = |url: &str| {
            Ok(SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(config.busy_timeout()))
        };
        log_core::open(BACKEND, url, config, options, |p| p.max_connections(1)).await
    }

    /// Uses an existing pool (give it one connection, WAL mode and a busy timeout). Does not run
    /// migrations: call [`migrate`](Self::migrate).
    ///
    /// # Errors
    /// [`Error::InvalidTablePrefix`](crate::Error::InvalidTablePrefix).
    pub fn with_pool(pool: SqlitePool, config: &SqlLogConfig) -> Result<Self> {
        let core = LogCore::new(pool, config, |t| {
            sql::Statements::new(t).with_prebuilt_appends()
        })?;
        let mut log = Self { core };
        log.core.writes = config
            .batching()
            .map(|b| crate::batch::coalescer(std::sync::Arc::new(log.clone()), b.with_writers(1)));
        Ok(log)
    }

    /// Creates or upgrades the tables in one immediate transaction; idempotent.
    ///
    /// # Errors
    /// [`Error::Migrate`](crate::Error::Migrate).
    pub async fn migrate(&self) -> Result<()> {
        let fail = |version| migrate::migrate_error(BACKEND, version);
        let mut tx = self.core.pool.begin_with(BEGIN).await.map_err(fail(0))?;
        migrate::apply_migrations::<sqlx::Sqlite>(
            &mut tx,
            BACKEND,
            &self.core.tables,
            Dialect::Sqlite,
            |_| false,
        )
        .await?;
        tx.commit().await.map_err(fail(0))
    }

    /// `create` without batching, on the caller's task (see [`crate::detach`]).
    async fn create_now(&self, saga: NewSaga) -> Result<Lease, LogError> {
        let mut tx = self.core.pool.begin_with(BEGIN).await.map_err(db)?;
        let fence = self.create_in(&mut tx, &saga).await?;
        tx.commit().await.map_err(db)?;
        self.core.counters.commit();
        self.core.counters.created();
        Ok(Lease { fence })
    }

    /// `append` without batching, on the caller's task (see [`crate::detach`]).
    async fn append_now(&self, append: &Append<'_>) -> Result<u64, LogError> {
        let mut tx = self.core.pool.begin_with(BEGIN).await.map_err(db)?;
        let version = self.append_in(&mut tx, append).await?;
        tx.commit().await.map_err(db)?;
        self.core.counters.commit();
        self.core.counters.appended();
        Ok(version)
    }

    /// The claim, on the caller's task (see [`crate::detach`]).
    async fn claim_now(&self, claim: ClaimRequest) -> Result<saga::log::ClaimBatch, LogError> {
        let target = claim::target(BACKEND, claim.target)?;
        let mut tx = self.core.pool.begin_with(BEGIN).await.map_err(db)?;
        let query = match target {
            Target::Page { limit, after } => sqlx::query_scalar(&self.core.sql.claimable)
                .bind(&claim.definition)
                .bind(i64::from(claim.definition_version))
                .bind(&claim.owner)
                .bind(after.map(|a| a.to_string()))
                .bind(limit),
            Target::One(id) => sqlx::query_scalar(&self.core.sql.claimable_one)
                .bind(&claim.definition)
                .bind(i64::from(claim.definition_version))
                .bind(&claim.owner)
                .bind(id.to_string()),
        };
        let ids: Vec<String> = query.fetch_all(&mut *tx).await.map_err(db)?;
        // An id that is no saga id is left alone, untaken: it can be neither reported nor driven.
        let candidates = ids
            .into_iter()
            .filter_map(|raw| Some((raw.parse::<SagaId>().ok()?, raw)));
        let (sql, lease_ms) = (&self.core.sql.taking, millis(claim.lease_ttl));
        let counters = &self.core.counters;
        claim::take_each::<sqlx::Sqlite, _>(
            tx,
            BACKEND,
            candidates,
            sql,
            &claim.owner,
            lease_ms,
            counters,
        )
        .await
    }

    /// The instance row and its `Started` record in one command.
    async fn create_in(&self, conn: &mut SqliteConnection, saga: &NewSaga) -> WriteResult {
        let done = sqlx::query(&self.core.sql.create)
            .bind(saga.id.to_string())
            .bind(&saga.definition)
            .bind(i64::from(saga.definition_version))
            .bind(&saga.owner)
            .bind(millis(saga.lease_ttl))
            .bind(saga.deadline_at_ms.map(to_i64))
            .bind(saga.data.as_ref())
            .execute(&mut *conn)
            .await
            .map_err(db)?;
        match done.rows_affected() {
            0 => Err(rows::already_exists(saga.id)),
            2 => Ok(1),
            n => Err(unexpected(saga.id, n, 2)),
        }
    }

    /// The checked update and the records in one command (see [`sql::Statements::append`]).
    async fn append_in(&self, conn: &mut SqliteConnection, a: &Append<'_>) -> WriteResult {
        let id = a.id.to_string();
        let records = event_rows(a.expected_version, a.events);
        let n = records.len();
        let statement = self.core.sql.append(n);
        let mut query = sqlx::query(&statement)
            .bind(&id)
            .bind(to_i64(a.expected_version))
            .bind(to_i64(a.lease.fence))
            .bind(i64::try_from(n).unwrap_or(i64::MAX))
            .bind(a.state.as_str())
            .bind(rows::releases_lease(a.state))
            .bind(millis(a.lease_ttl));
        for r in records {
            query = query
                .bind(r.seq)
                .bind(r.kind)
                .bind(r.step)
                .bind(r.attempt)
                .bind(r.detail)
                .bind(r.payload);
        }
        let done = query.execute(&mut *conn).await.map_err(db)?;
        let n = n as u64;
        if done.rows_affected() == 1 + n {
            return Ok(a.expected_version + n);
        }
        if done.rows_affected() != 0 {
            return Err(unexpected(a.id, done.rows_affected(), 1 + n));
        }
        let found = sqlx::query(&self.core.sql.current)
            .bind(&id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?;
        Err(rows::diagnose(a, rows::current(BACKEND, found)?))
    }
}

/// A write that changed an unexpected number of rows; its transaction is rolled back.
fn unexpected(id: SagaId, changed: u64, want: u64) -> LogError {
    LogError::Backend {
        backend: BACKEND,
        message: format!("write to saga {id} changed {changed} rows, expected {want}"),
        transient: false,
        source: None,
    }
}

fn saga_id(row: &SqliteRow, column: &str) -> Result<SagaId, sqlx::Error> {
    row.try_get::<&str, _>(column)?
        .parse()
        .map_err(|e: saga::ParseSagaIdError| sqlx::Error::Decode(Box::new(e)))
}

rows::columns!(SqliteRow, saga_id: saga_id);

#[async_trait]
impl SagaLog for SqliteSagaLog {
    async fn create(&self, saga: NewSaga) -> Result<Lease, LogError> {
        if let Some(writes) = &self.core.writes {
            return crate::batch::create_via(writes, saga).await;
        }
        let this = self.clone();
        crate::detach::to_completion(BACKEND, async move { this.create_now(saga).await }).await
    }

    async fn append(&self, append: Append<'_>) -> Result<u64, LogError> {
        if let Some(writes) = &self.core.writes {
            return crate::batch::append_via(writes, &append).await;
        }
        let (this, owned) = (self.clone(), OwnedAppend::from_append(&append));
        crate::detach::to_completion(
            BACKEND,
            async move { this.append_now(&owned.as_append()).await },
        )
        .await
    }

    async fn load(&self, id: SagaId) -> Result<Option<SagaSnapshot>, LogError> {
        let rows = sqlx::query(&self.core.sql.load)
            .bind(id.to_string())
            .fetch_all(&self.core.pool)
            .await
            .map_err(db)?;
        rows::loaded(BACKEND, id, &rows)
    }

    async fn claim(&self, claim: ClaimRequest) -> Result<saga::log::ClaimBatch, LogError> {
        let this = self.clone();
        crate::detach::to_completion(BACKEND, async move { this.claim_now(claim).await }).await
    }

    async fn list(&self, query: ListQuery) -> Result<Vec<SagaInstance>, LogError> {
        let states = rows::state_list(&query.states);
        let rows = sqlx::query(&self.core.sql.list)
            .bind(query.definition.as_deref())
            .bind(states)
            .bind(i64::try_from(query.limit).unwrap_or(i64::MAX))
            .fetch_all(&self.core.pool)
            .await
            .map_err(db)?;
        rows::instances(BACKEND, &rows)
    }
}
