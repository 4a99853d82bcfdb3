//! [`MySqlSagaLog`]: the saga log on MySQL and MariaDB.

use async_trait::async_trait;
use futures::TryStreamExt as _;
use saga::log::{
    Append, ClaimRequest, Lease, ListQuery, NewSaga, OwnedAppend, SagaInstance, SagaSnapshot,
};
use saga::{LogError, SagaId, SagaLog};
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlPool};
use sqlx::Executor as _;

use crate::batch::WriteResult;

use crate::config::SqlLogConfig;
use crate::error::{log_error, Result};
use crate::log_core::{self, sql_log_api, LogCore};
use crate::migrate;
use crate::rows;
use crate::schema::Dialect;
use crate::secret::SecretUrl;

mod batch;
mod lit;
mod page;
mod row;
mod sql;

use row::bin;

const BACKEND: &str = "mysql";

fn db(e: sqlx::Error) -> LogError {
    log_error(BACKEND, e)
}

/// A [`SagaLog`] on MySQL 8 or MariaDB 10.6+ (InnoDB).
///
/// Saga ids are `BINARY(16)`. Each `create` and `append` is one transaction (`UPDATE ... WHERE id = ?
/// AND version = ? AND fence = ?` plus the record inserts). Connections run at `READ COMMITTED`, and
/// claims use `SELECT ... FOR UPDATE SKIP LOCKED`, so concurrent recoveries never take the same saga and
/// do not block on each other's rows.
///
/// By default the writes of concurrent sagas are batched into shared transactions
/// ([`SqlLogConfig::with_batching`]); a lone write still runs at once, on its own.
#[derive(Clone)]
pub struct MySqlSagaLog {
    core: LogCore<sqlx::MySql, sql::Statements>,
}

sql_log_api! {
    MySqlSagaLog, sqlx::MySql, MySqlPool, Dialect::MySql;
    /// Connects a pool to `url` (`mysql://user:password@host:3306/db`) and, unless turned off in
    /// `config`, runs the migrations.
    ///
    /// # Errors
    /// [`Error::InvalidTablePrefix`](crate::Error::InvalidTablePrefix),
    /// [`Error::Connect`](crate::Error::Connect), [`Error::Migrate`](crate::Error::Migrate).
    connect;
    /// The connection pool, e.g. for a participant's business transaction with the
    /// [`Inbox`](crate::Inbox).
    pool;
    /// The participant inbox in this database and table prefix, for `scope`.
    inbox;
    /// Commit counters of this log (and its clones).
    stats;
}

impl MySqlSagaLog {
    /// Every connection of the pool runs at `READ COMMITTED`.
    async fn open(url: &str, config: &SqlLogConfig) -> Result<(MySqlPool, SecretUrl)> {
        log_core::open(
            BACKEND,
            url,
            config,
            str::parse::<MySqlConnectOptions>,
            |p| {
                p.after_connect(|conn: &mut MySqlConnection, _| {
                    Box::pin(async move {
                        conn.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
                            .await
                            .map(|_| ())
                    })
                })
            },
        )
        .await
    }

    /// Uses an existing pool (best at `READ COMMITTED`). Does not run migrations: call
    /// [`migrate`](Self::migrate).
    ///
    /// # Errors
    /// [`Error::InvalidTablePrefix`](crate::Error::InvalidTablePrefix).
    pub fn with_pool(pool: MySqlPool, config: &SqlLogConfig) -> Result<Self> {
        let core = LogCore::new(pool, config, sql::Statements::new)?;
        let mut log = Self { core };
        log.core.writes = config
            .batching()
            .map(|b| crate::batch::coalescer(std::sync::Arc::new(log.clone()), b));
        Ok(log)
    }

    /// Creates or upgrades the tables; idempotent, and safe to run from several processes at once
    /// (`GET_LOCK` serializes them; MySQL DDL is not transactional, so each statement commits on its own
    /// and an index that already exists is skipped).
    ///
    /// # Errors
    /// [`Error::Migrate`](crate::Error::Migrate).
    pub async fn migrate(&self) -> Result<()> {
        let fail = |version| migrate::migrate_error(BACKEND, version);
        let mut conn = self.core.pool.acquire().await.map_err(fail(0))?;
        let lock = format!("saga-sqlx/{}", self.core.tables.prefix);
        sqlx::query("SELECT GET_LOCK(?, 60)")
            .bind(&lock)
            .execute(&mut *conn)
            .await
            .map_err(fail(0))?;
        let tables = &self.core.tables;
        let result = migrate::apply_migrations::<sqlx::MySql>(
            &mut conn,
            BACKEND,
            tables,
            Dialect::MySql,
            duplicate_index,
        )
        .await;
        let unlocked = sqlx::query("SELECT RELEASE_LOCK(?)")
            .bind(&lock)
            .execute(&mut *conn)
            .await;
        result?;
        unlocked.map(|_| ()).map_err(fail(0))
    }

    /// `create` without batching, on the caller's task (see [`crate::detach`]).
    async fn create_now(&self, saga: NewSaga) -> Result<Lease, LogError> {
        let mut tx = self.core.pool.begin().await.map_err(db)?;
        let fence = self.create_in(&mut tx, &saga).await?;
        tx.commit().await.map_err(db)?;
        self.core.counters.commit();
        self.core.counters.created();
        Ok(Lease { fence })
    }

    /// `append` without batching, on the caller's task (see [`crate::detach`]).
    async fn append_now(&self, append: &Append<'_>) -> Result<u64, LogError> {
        let mut tx = self.core.pool.begin().await.map_err(db)?;
        let version = self.append_in(&mut tx, append).await?;
        tx.commit().await.map_err(db)?;
        self.core.counters.commit();
        self.core.counters.appended();
        Ok(version)
    }

    async fn create_in(&self, conn: &mut MySqlConnection, saga: &NewSaga) -> WriteResult {
        let mut body = String::with_capacity(768 + 2 * saga.data.len());
        self.core.sql.create_body(&mut body, saga);
        match run_body(conn, &body).await {
            Ok(_) => Ok(1),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(rows::already_exists(saga.id))
            }
            Err(e) => Err(db(e)),
        }
    }

    /// The update and the record inserts of an append in one round trip (see
    /// [`sql::Statements::append_body`]).
    async fn append_in(&self, conn: &mut MySqlConnection, a: &Append<'_>) -> WriteResult {
        let mut body = String::with_capacity(1024);
        self.core.sql.append_body(&mut body, a);
        let counts = run_body(conn, &body).await.map_err(db)?;
        self.append_result(conn, a, &counts).await
    }

    /// The result of an append from the rows its statements affected; an update that matched no row is
    /// diagnosed from the row as it is now.
    async fn append_result(
        &self,
        conn: &mut MySqlConnection,
        a: &Append<'_>,
        counts: &[u64],
    ) -> WriteResult {
        let n = a.events.len() as u64;
        if counts.first() == Some(&1) {
            let inserted: u64 = counts.iter().skip(1).sum();
            if inserted != n {
                return Err(LogError::Backend {
                    backend: BACKEND,
                    message: format!("append to saga {} inserted {inserted} of {n} records", a.id),
                    transient: false,
                    source: None,
                });
            }
            return Ok(a.expected_version + n);
        }
        let found = sqlx::query(&self.core.sql.current)
            .bind(bin(a.id))
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?;
        Err(rows::diagnose(a, rows::current(BACKEND, found)?))
    }
}

/// Error 1061, duplicate key name: an index left by an interrupted migration.
fn duplicate_index(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(e)
        if e.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
            .is_some_and(|my| my.number() == 1061))
}

#[async_trait]
impl SagaLog for MySqlSagaLog {
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
            .bind(bin(id))
            .fetch_all(&self.core.pool)
            .await
            .map_err(db)?;
        rows::loaded(BACKEND, id, &rows)
    }

    async fn claim(&self, claim: ClaimRequest) -> Result<saga::log::ClaimBatch, LogError> {
        let this = self.clone();
        crate::detach::to_completion(BACKEND, async move { page::claim(&this, claim).await }).await
    }

    async fn list(&self, query: ListQuery) -> Result<Vec<SagaInstance>, LogError> {
        let states = rows::state_list(&query.states);
        let rows = sqlx::query(&self.core.sql.list)
            .bind(query.definition.as_deref())
            .bind(query.definition.as_deref())
            .bind(&states)
            .bind(&states)
            .bind(i64::try_from(query.limit).unwrap_or(i64::MAX))
            .fetch_all(&self.core.pool)
            .await
            .map_err(db)?;
        rows::instances(BACKEND, &rows)
    }
}

/// Runs the statements of `body` (one request) and returns the rows each affected, in order.
async fn run_body(conn: &mut MySqlConnection, body: &str) -> Result<Vec<u64>, sqlx::Error> {
    let mut results = sqlx::raw_sql(body).fetch_many(&mut *conn);
    let mut counts = Vec::new();
    while let Some(item) = results.try_next().await? {
        if let sqlx::Either::Left(done) = item {
            counts.push(done.rows_affected());
        }
    }
    Ok(counts)
}
