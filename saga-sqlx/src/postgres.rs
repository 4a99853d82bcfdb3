//! [`PostgresSagaLog`]: the saga log on PostgreSQL.

use async_trait::async_trait;
use saga::log::{Append, ClaimRequest, Lease, ListQuery, NewSaga, SagaSnapshot};
use saga::{LogError, SagaId, SagaLog};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgRow};
use sqlx::Row;
use uuid::Uuid;

use crate::batch::WriteResult;
use crate::claim::{self, Outcome, Target};
use crate::config::SqlLogConfig;
use crate::error::{log_error, Result};
use crate::log_core::{self, sql_log_api, LogCore};
use crate::migrate;
use crate::rows::{self, event_rows, millis, to_i64};
use crate::schema::Dialect;
use crate::secret::SecretUrl;

mod batch;
mod sql;

const BACKEND: &str = "postgres";

/// A [`SagaLog`] on PostgreSQL.
///
/// Every unbatched `create` and `append` is one statement (an `INSERT`/`UPDATE` with its records in a
/// data-modifying CTE), hence one commit and one round trip. Claims use `FOR UPDATE SKIP LOCKED`, so
/// concurrent recoveries never take the same saga. Cheap to clone (the pool is shared).
///
/// By default the writes of concurrent sagas are batched into shared transactions
/// ([`SqlLogConfig::with_batching`]); a lone write still runs at once, on its own.
#[derive(Clone)]
pub struct PostgresSagaLog {
    core: LogCore<sqlx::Postgres, sql::Statements>,
}

sql_log_api! {
    PostgresSagaLog, sqlx::Postgres, PgPool, Dialect::Postgres;
    /// Connects a pool to `url` (`postgres://user:password@host:port/db`) and, unless turned off in
    /// `config`, runs the migrations.
    ///
    /// # Errors
    /// [`Error::InvalidTablePrefix`](crate::Error::InvalidTablePrefix),
    /// [`Error::Connect`](crate::Error::Connect) (the URL in it has no password),
    /// [`Error::Migrate`](crate::Error::Migrate).
    connect;
    /// The connection pool, e.g. to run a participant's business transaction with the
    /// [`Inbox`](crate::Inbox).
    pool;
    /// The participant inbox in this log's database and table prefix, for `scope`.
    inbox;
    /// Commit counters of this log (and its clones).
    stats;
}

impl PostgresSagaLog {
    async fn open(url: &str, config: &SqlLogConfig) -> Result<(PgPool, SecretUrl)> {
        log_core::open(BACKEND, url, config, str::parse::<PgConnectOptions>, |p| p).await
    }

    /// Uses an existing pool. Does not run migrations: call [`migrate`](Self::migrate).
    ///
    /// # Errors
    /// [`Error::InvalidTablePrefix`](crate::Error::InvalidTablePrefix).
    pub fn with_pool(pool: PgPool, config: &SqlLogConfig) -> Result<Self> {
        let core = LogCore::new(pool, config, sql::Statements::new)?;
        let mut log = Self { core };
        log.core.writes = config
            .batching()
            .map(|b| crate::batch::coalescer(std::sync::Arc::new(log.clone()), b));
        Ok(log)
    }

    /// Creates or upgrades the tables; idempotent, and safe to run from several processes at once (an
    /// advisory lock serializes them).
    ///
    /// # Errors
    /// [`Error::Migrate`](crate::Error::Migrate).
    pub async fn migrate(&self) -> Result<()> {
        let fail = |version| migrate::migrate_error(BACKEND, version);
        let mut tx = self.core.pool.begin().await.map_err(fail(0))?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(format!("saga-sqlx/{}", self.core.tables.prefix))
            .execute(&mut *tx)
            .await
            .map_err(fail(0))?;
        migrate::apply_migrations::<sqlx::Postgres>(
            &mut tx,
            BACKEND,
            &self.core.tables,
            Dialect::Postgres,
            |_| false,
        )
        .await?;
        tx.commit().await.map_err(fail(0))
    }

    async fn create_on(&self, conn: &mut PgConnection, saga: &NewSaga) -> WriteResult {
        let done = sqlx::query(&self.core.sql.create)
            .bind(saga.id.as_uuid())
            .bind(&saga.definition)
            .bind(i64::from(saga.definition_version))
            .bind(&saga.owner)
            .bind(millis(saga.lease_ttl))
            .bind(saga.deadline_at_ms.map(to_i64))
            .bind(saga.data.as_ref())
            .execute(conn)
            .await
            .map_err(|e| log_error(BACKEND, e))?;
        if done.rows_affected() == 0 {
            return Err(rows::already_exists(saga.id));
        }
        Ok(1)
    }

    async fn append_on(&self, conn: &mut PgConnection, a: &Append<'_>) -> WriteResult {
        let rows = event_rows(a.expected_version, a.events);
        let n = i64::try_from(rows.len()).unwrap_or(i64::MAX);
        let release = rows::releases_lease(a.state);
        let updated: Option<i64> = sqlx::query_scalar(&self.core.sql.append)
            .bind(a.id.as_uuid())
            .bind(to_i64(a.expected_version))
            .bind(to_i64(a.lease.fence))
            .bind(n)
            .bind(a.state.as_str())
            .bind(release)
            .bind(millis(a.lease_ttl))
            .bind(rows.iter().map(|r| r.seq).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.kind).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.step).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.attempt).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.detail.clone()).collect::<Vec<_>>())
            .bind(rows.into_iter().map(|r| r.payload).collect::<Vec<_>>())
            .fetch_optional(&mut *conn)
            .await
            .map_err(|e| log_error(BACKEND, e))?;
        if let Some(version) = updated {
            return u64::try_from(version).map_err(|_| crate::error::corrupt(a.id, "bad version"));
        }
        let found = sqlx::query(&self.core.sql.current)
            .bind(a.id.as_uuid())
            .fetch_optional(&mut *conn)
            .await
            .map_err(|e| log_error(BACKEND, e))?;
        Err(rows::diagnose(a, rows::current(BACKEND, found)?))
    }
}

fn saga_id(row: &PgRow, column: &str) -> Result<SagaId, sqlx::Error> {
    row.try_get(column).map(SagaId::from_uuid)
}

rows::columns!(PgRow, saga_id: saga_id);

#[async_trait]
impl SagaLog for PostgresSagaLog {
    async fn create(&self, saga: NewSaga) -> Result<Lease, LogError> {
        if let Some(writes) = &self.core.writes {
            return crate::batch::create_via(writes, saga).await;
        }
        let mut conn = self
            .core
            .pool
            .acquire()
            .await
            .map_err(|e| log_error(BACKEND, e))?;
        let fence = self.create_on(&mut conn, &saga).await?;
        self.core.counters.commit();
        self.core.counters.created();
        Ok(Lease { fence })
    }

    async fn append(&self, append: Append<'_>) -> Result<u64, LogError> {
        if let Some(writes) = &self.core.writes {
            return crate::batch::append_via(writes, &append).await;
        }
        let mut conn = self
            .core
            .pool
            .acquire()
            .await
            .map_err(|e| log_error(BACKEND, e))?;
        let version = self.append_on(&mut conn, &append).await?;
        self.core.counters.commit();
        self.core.counters.appended();
        Ok(version)
    }

    async fn load(&self, id: SagaId) -> Result<Option<SagaSnapshot>, LogError> {
        let rows = sqlx::query(&self.core.sql.load)
            .bind(id.as_uuid())
            .fetch_all(&self.core.pool)
            .await
            .map_err(|e| log_error(BACKEND, e))?;
        rows::loaded(BACKEND, id, &rows)
    }

    async fn claim(&self, claim: ClaimRequest) -> Result<saga::log::ClaimBatch, LogError> {
        let target = claim::target(BACKEND, claim.target)?;
        let statement = match target {
            Target::Page { .. } => &self.core.sql.claim_recoverable,
            Target::One(_) => &self.core.sql.claim_one,
        };
        let query = sqlx::query(statement)
            .bind(&claim.definition)
            .bind(i64::from(claim.definition_version))
            .bind(&claim.owner)
            .bind(millis(claim.lease_ttl));
        let query = match target {
            Target::Page { limit, after } => query.bind(limit).bind(after.map(|a| *a.as_uuid())),
            Target::One(id) => query.bind(*id.as_uuid()),
        };
        let rows = query
            .fetch_all(&self.core.pool)
            .await
            .map_err(|e| log_error(BACKEND, e))?;
        self.core.counters.commit();
        let mut outcome = Outcome::default();
        for (id, rows) in rows::by_saga(BACKEND, &rows)? {
            outcome.add(id, rows::loaded(BACKEND, id, rows))?;
        }
        // The claim committed; give back at once the leases it took on corrupt sagas. Should that
        // fail, those leases lapse after `lease_ttl` like a dead executor's, and the sagas claimed
        // meanwhile are still returned, to be driven.
        let corrupt: Vec<Uuid> = outcome.corrupt_ids().map(|id| *id.as_uuid()).collect();
        if !corrupt.is_empty() {
            let released = sqlx::query(&self.core.sql.release)
                .bind(corrupt)
                .bind(&claim.owner)
                .execute(&self.core.pool)
                .await;
            match released {
                Ok(_) => self.core.counters.commit(),
                Err(e) => {
                    tracing::warn!(error = %e, "saga-sqlx: leases on corrupt sagas not released")
                }
            }
        }
        Ok(outcome.finish(&self.core.counters))
    }

    async fn list(&self, query: ListQuery) -> Result<Vec<saga::log::SagaInstance>, LogError> {
        let states: Vec<&str> = query.states.iter().map(|s| s.as_str()).collect();
        let rows = sqlx::query(&self.core.sql.list)
            .bind(query.definition.as_deref())
            .bind(states)
            .bind(i64::try_from(query.limit).unwrap_or(i64::MAX))
            .fetch_all(&self.core.pool)
            .await
            .map_err(|e| log_error(BACKEND, e))?;
        rows::instances(BACKEND, &rows)
    }
}
