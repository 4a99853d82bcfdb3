//! The SQL targets of the load generator (`--log sqlite://…|postgres://…|mysql://…`) and their raw sqlx
//! baselines: hand-written code issuing the same inserts/updates per saga (one transaction for the
//! create, one per append, the same rows and columns) with no saga logic, at the same concurrency.
//!
//! `run` returns (library stats, commits per saga, baseline stats). Commits come from the database's own
//! counter: PostgreSQL `pg_stat_database.xact_commit`, MariaDB/MySQL `Com_commit`, SQLite the log's own
//! counter ([`saga_sqlx::SqliteSagaLog::stats`]). The library log has default settings (writes batched)
//! unless `--batching off`; the baseline is always unbatched. `--rounds` rounds (default 2) of baseline
//! and library, alternating, each on fresh tables that are dropped after it.

use std::sync::Arc;

use saga_sqlx::sqlx;
use saga_sqlx::SqlLogConfig;

use crate::runner::{drive, run_library, Args, Stats};

mod opened;
pub use opened::{open, Dialect, Opened};

/// Each append of one saga, as a number of events (the executor's batching: the last forward step
/// carries `Completed`, the last compensation carries `Compensated`).
fn plan(args: &Args) -> Vec<usize> {
    match args.fail_at {
        None => (1..=args.steps)
            .map(|i| if i == args.steps { 2 } else { 1 })
            .collect(),
        Some(k) => {
            let mut p = vec![1; k]; // k-1 completed steps + the refusal
            if k == 1 {
                p.push(1);
            } else {
                p.extend((1..k).map(|j| if j == k - 1 { 2 } else { 1 }));
            }
            p
        }
    }
}

fn prefix() -> String {
    format!("lg{}_", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

/// Each round of the library, commits per saga (the last round), each round of the baseline.
type Rounds = (Vec<Stats>, Option<f64>, Vec<Stats>);

/// Runs the library and the baseline against `args.log`.
pub async fn run(args: &Args) -> Result<Rounds, String> {
    let scheme = args.log.split("://").next().unwrap_or_default();
    match scheme {
        "sqlite" => lite::run(args).await,
        #[cfg(feature = "postgres")]
        "postgres" | "postgresql" => pg::run(args).await,
        #[cfg(feature = "mysql")]
        "mysql" | "mariadb" => my::run(args).await,
        other => Err(format!(
            "log scheme {other:?} is not enabled (features `postgres`/`mysql` add those)"
        )),
    }
}

fn config(args: &Args) -> SqlLogConfig {
    let config = SqlLogConfig::default()
        .with_table_prefix(prefix())
        .with_max_connections(u32::try_from(args.concurrency.clamp(2, 64)).unwrap_or(64));
    let config = match args.ping_after_idle_ms {
        Some(ms) => config.with_ping_after_idle(std::time::Duration::from_millis(ms)),
        None => config,
    };
    if args.batching {
        match args.writers {
            Some(n) => config.with_batching(saga::log::BatchingConfig::default().with_writers(n)),
            None => config,
        }
    } else {
        config.without_batching()
    }
}

/// Maps a failed drop. Every call is followed by closing the log's pool, so the pools of successive
/// rounds (up to 64 connections each without batching) never add up to the server's connection limit.
fn drop_tables(done: saga_sqlx::Result<()>) -> Result<(), String> {
    done.map_err(|e| format!("dropping the run's tables: {e}"))
}

fn warm(args: &Args) -> Args {
    Args {
        sagas: (args.sagas / 10).max(1),
        ..args.clone()
    }
}

mod lite {
    use super::*;
    use saga_sqlx::SqliteSagaLog;

    pub(super) async fn open(args: &Args) -> Result<SqliteSagaLog, String> {
        SqliteSagaLog::connect(&args.log, config(args))
            .await
            .map_err(|e| e.to_string())
    }

    pub(super) async fn run(args: &Args) -> Result<Rounds, String> {
        let log = open(args).await?;
        let _ = run_library(&warm(args), Arc::new(log.clone())).await;
        drop_tables(log.drop_tables().await)?;
        log.pool().close().await;
        let log = open(args).await?;
        let _ = baseline(&warm(args), log.clone()).await;
        drop_tables(log.drop_tables().await)?;
        log.pool().close().await;
        let (mut libs, mut commits, mut bases) = (Vec::new(), 0.0, Vec::new());
        for _ in 0..args.rounds {
            let log = open(args).await?;
            bases.push(baseline(args, log.clone()).await);
            drop_tables(log.drop_tables().await)?;
            log.pool().close().await;
            let log = open(args).await?;
            let before = log.stats().commits;
            libs.push(run_library(args, Arc::new(log.clone())).await);
            commits = (log.stats().commits - before) as f64 / args.sagas as f64;
            drop_tables(log.drop_tables().await)?;
            log.pool().close().await;
        }
        Ok((libs, Some(commits), bases))
    }

    async fn baseline(args: &Args, log: SqliteSagaLog) -> Stats {
        let pool = log.pool().clone();
        let (i, l) = (
            format!("{}saga_instances", log.table_prefix()),
            format!("{}saga_step_logs", log.table_prefix()),
        );
        let plan = Arc::new(plan(args));
        let now = "CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)";
        let create = Arc::new(format!(
            "INSERT INTO {i} (id, definition, definition_version, state, version, owner, fence, \
             lease_until_ms, deadline_at_ms, created_at_ms, updated_at_ms) \
             VALUES (?1, 'raw', 1, 'running', 1, 'raw', 1, {now} + 30000, NULL, {now}, {now})"
        ));
        let record = Arc::new(format!(
            "INSERT INTO {l} (saga_id, seq, kind, step, attempt, detail, payload, at_ms) \
             VALUES (?1, ?2, ?3, ?4, 1, NULL, ?5, {now})"
        ));
        let update = Arc::new(format!(
            "UPDATE {i} SET version = version + ?1, state = 'running', lease_until_ms = {now} + 30000, \
             updated_at_ms = {now} WHERE id = ?2 AND version = ?3 AND fence = 1"
        ));
        drive(args.sagas, args.concurrency, move |_| {
            let (pool, plan, create, record, update) = (
                pool.clone(),
                Arc::clone(&plan),
                Arc::clone(&create),
                Arc::clone(&record),
                Arc::clone(&update),
            );
            async move {
                let id = uuid::Uuid::now_v7().to_string();
                let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.expect("begin");
                sqlx::query(&create)
                    .bind(&id)
                    .execute(&mut *tx)
                    .await
                    .expect("insert");
                sqlx::query(&record)
                    .bind(&id)
                    .bind(1_i64)
                    .bind("started")
                    .bind(None::<i64>)
                    .bind(&b"null"[..])
                    .execute(&mut *tx)
                    .await
                    .expect("record");
                tx.commit().await.expect("commit");
                let mut version = 1_i64;
                for (step, n) in plan.iter().enumerate() {
                    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.expect("begin");
                    let n = *n as i64;
                    let done = sqlx::query(&update)
                        .bind(n)
                        .bind(&id)
                        .bind(version)
                        .execute(&mut *tx)
                        .await
                        .expect("update");
                    assert_eq!(done.rows_affected(), 1);
                    for k in 1..=n {
                        sqlx::query(&record)
                            .bind(&id)
                            .bind(version + k)
                            .bind("step_completed")
                            .bind(step as i64)
                            .bind(&b"null"[..])
                            .execute(&mut *tx)
                            .await
                            .expect("record");
                    }
                    tx.commit().await.expect("commit");
                    version += n;
                }
            }
        })
        .await
    }
}

#[cfg(feature = "postgres")]
mod pg {
    use super::*;
    use saga_sqlx::PostgresSagaLog;

    pub(super) async fn open(args: &Args) -> Result<PostgresSagaLog, String> {
        PostgresSagaLog::connect(&args.log, config(args))
            .await
            .map_err(|e| e.to_string())
    }

    /// Committed transactions of this database so far, flushed: the pool's backends have exited.
    async fn xact_commit(url: &str) -> Result<i64, String> {
        let pool = sqlx::PgPool::connect(url)
            .await
            .map_err(|e| saga_sqlx::redact_url(&e.to_string()))?;
        let n: i64 = sqlx::query_scalar(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
        )
        .fetch_one(&pool)
        .await
        .map_err(|e| e.to_string())?;
        pool.close().await;
        Ok(n)
    }

    pub(super) async fn run(args: &Args) -> Result<Rounds, String> {
        let log = open(args).await?;
        let _ = run_library(&warm(args), Arc::new(log.clone())).await;
        drop_tables(log.drop_tables().await)?;
        log.pool().close().await;
        let (mut libs, mut commits, mut bases) = (Vec::new(), 0.0, Vec::new());
        for _ in 0..args.rounds {
            let log = open(args).await?;
            bases.push(baseline(args, log.clone()).await);
            drop_tables(log.drop_tables().await)?;
            log.pool().close().await;
            let log = open(args).await?;
            let before = xact_commit(&args.log).await?;
            libs.push(run_library(args, Arc::new(log.clone())).await);
            // Closing the pool ends its backends, which flushes their statistics.
            log.pool().close().await;
            let after = xact_commit(&args.log).await?;
            // The counting connection itself commits one read before `after` is taken.
            commits = (after - before - 1) as f64 / args.sagas as f64;
            let config = config(args)
                .with_table_prefix(log.table_prefix())
                .with_migrations(false);
            let again = PostgresSagaLog::connect(&args.log, config)
                .await
                .map_err(|e| e.to_string())?;
            drop_tables(again.drop_tables().await)?;
            again.pool().close().await;
        }
        Ok((libs, Some(commits), bases))
    }

    async fn baseline(args: &Args, log: PostgresSagaLog) -> Stats {
        let pool = log.pool().clone();
        let (i, l) = (
            format!("{}saga_instances", log.table_prefix()),
            format!("{}saga_step_logs", log.table_prefix()),
        );
        let plan = Arc::new(plan(args));
        let now = "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT";
        let create = Arc::new(format!(
            "WITH ins AS (INSERT INTO {i} (id, definition, definition_version, state, version, owner, \
               fence, lease_until_ms, deadline_at_ms, created_at_ms, updated_at_ms) \
               VALUES ($1, 'raw', 1, 'running', 1, 'raw', 1, {now} + 30000, NULL, {now}, {now}) \
               RETURNING id) \
             INSERT INTO {l} (saga_id, seq, kind, payload, at_ms) \
             SELECT id, 1, 'started', $2, {now} FROM ins"
        ));
        let append = Arc::new(format!(
            "WITH upd AS (UPDATE {i} SET version = version + $2, state = 'running', \
               lease_until_ms = {now} + 30000, updated_at_ms = {now} \
               WHERE id = $1 AND version = $3 AND fence = 1 RETURNING id) \
             INSERT INTO {l} (saga_id, seq, kind, step, attempt, payload, at_ms) \
             SELECT upd.id, e.seq, 'step_completed', $4, 1, $5, {now} \
             FROM upd, UNNEST($6::BIGINT[]) AS e(seq)"
        ));
        drive(args.sagas, args.concurrency, move |_| {
            let (pool, plan, create, append) = (
                pool.clone(),
                Arc::clone(&plan),
                Arc::clone(&create),
                Arc::clone(&append),
            );
            async move {
                let id = uuid::Uuid::now_v7();
                sqlx::query(&create)
                    .bind(id)
                    .bind(&b"null"[..])
                    .execute(&pool)
                    .await
                    .expect("create");
                let mut version = 1_i64;
                for (step, n) in plan.iter().enumerate() {
                    let n = *n as i64;
                    let seqs: Vec<i64> = (1..=n).map(|k| version + k).collect();
                    let done = sqlx::query(&append)
                        .bind(id)
                        .bind(n)
                        .bind(version)
                        .bind(step as i64)
                        .bind(&b"null"[..])
                        .bind(seqs)
                        .execute(&pool)
                        .await
                        .expect("append");
                    assert_eq!(done.rows_affected(), n as u64);
                    version += n;
                }
            }
        })
        .await
    }
}

#[cfg(feature = "mysql")]
mod my {
    use super::*;
    use saga_sqlx::MySqlSagaLog;

    pub(super) async fn open(args: &Args) -> Result<MySqlSagaLog, String> {
        MySqlSagaLog::connect(&args.log, config(args))
            .await
            .map_err(|e| e.to_string())
    }

    async fn com_commit(pool: &sqlx::MySqlPool) -> Result<i64, String> {
        let row: (String, String) = sqlx::query_as("SHOW GLOBAL STATUS LIKE 'Com_commit'")
            .fetch_one(pool)
            .await
            .map_err(|e| e.to_string())?;
        row.1.parse().map_err(|e| format!("Com_commit: {e}"))
    }

    pub(super) async fn run(args: &Args) -> Result<Rounds, String> {
        let log = open(args).await?;
        let _ = run_library(&warm(args), Arc::new(log.clone())).await;
        drop_tables(log.drop_tables().await)?;
        log.pool().close().await;
        let (mut libs, mut commits, mut bases) = (Vec::new(), 0.0, Vec::new());
        for _ in 0..args.rounds {
            let log = open(args).await?;
            bases.push(baseline(args, log.clone()).await);
            drop_tables(log.drop_tables().await)?;
            log.pool().close().await;
            let log = open(args).await?;
            let before = com_commit(log.pool()).await?;
            libs.push(run_library(args, Arc::new(log.clone())).await);
            let after = com_commit(log.pool()).await?;
            commits = (after - before) as f64 / args.sagas as f64;
            drop_tables(log.drop_tables().await)?;
            log.pool().close().await;
        }
        Ok((libs, Some(commits), bases))
    }

    async fn baseline(args: &Args, log: MySqlSagaLog) -> Stats {
        let pool = log.pool().clone();
        let (i, l) = (
            format!("{}saga_instances", log.table_prefix()),
            format!("{}saga_step_logs", log.table_prefix()),
        );
        let plan = Arc::new(plan(args));
        let now = "CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)";
        let create = Arc::new(format!(
            "INSERT INTO {i} (id, definition, definition_version, state, version, owner, fence, \
             lease_until_ms, deadline_at_ms, created_at_ms, updated_at_ms) \
             VALUES (?, 'raw', 1, 'running', 1, 'raw', 1, {now} + 30000, NULL, {now}, {now})"
        ));
        let record = Arc::new(format!(
            "INSERT INTO {l} (saga_id, seq, kind, step, attempt, detail, payload, at_ms) \
             VALUES (?, ?, ?, ?, 1, NULL, ?, {now})"
        ));
        let update = Arc::new(format!(
            "UPDATE {i} SET version = version + ?, state = 'running', lease_until_ms = {now} + 30000, \
             updated_at_ms = {now} WHERE id = ? AND version = ? AND fence = 1"
        ));
        drive(args.sagas, args.concurrency, move |_| {
            let (pool, plan, create, record, update) = (
                pool.clone(),
                Arc::clone(&plan),
                Arc::clone(&create),
                Arc::clone(&record),
                Arc::clone(&update),
            );
            async move {
                let id = uuid::Uuid::now_v7().as_bytes().to_vec();
                let mut tx = pool.begin().await.expect("begin");
                sqlx::query(&create)
                    .bind(&id)
                    .execute(&mut *tx)
                    .await
                    .expect("insert");
                sqlx::query(&record)
                    .bind(&id)
                    .bind(1_i64)
                    .bind("started")
                    .bind(None::<i64>)
                    .bind(&b"null"[..])
                    .execute(&mut *tx)
                    .await
                    .expect("record");
                tx.commit().await.expect("commit");
                let mut version = 1_i64;
                for (step, n) in plan.iter().enumerate() {
                    let n = *n as i64;
                    let mut tx = pool.begin().await.expect("begin");
                    sqlx::query(&update)
                        .bind(n)
                        .bind(&id)
                        .bind(version)
                        .execute(&mut *tx)
                        .await
                        .expect("update");
                    for k in 1..=n {
                        sqlx::query(&record)
                            .bind(&id)
                            .bind(version + k)
                            .bind("step_completed")
                            .bind(step as i64)
                            .bind(&b"null"[..])
                            .execute(&mut *tx)
                            .await
                            .expect("record");
                    }
                    tx.commit().await.expect("commit");
                    version += n;
                }
            }
        })
        .await
    }
}
