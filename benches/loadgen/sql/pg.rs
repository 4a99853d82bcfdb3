//! The PostgreSQL target (`--log postgres://…`) and its raw sqlx baseline.

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
    let _ = run_library(&args.warm_up(), Arc::new(log.clone())).await;
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
