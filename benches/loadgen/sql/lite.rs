//! The SQLite target (`--log sqlite://…`) and its raw sqlx baseline.

use super::*;
use saga_sqlx::SqliteSagaLog;

pub(super) async fn open(args: &Args) -> Result<SqliteSagaLog, String> {
    SqliteSagaLog::connect(&args.log, config(args))
        .await
        .map_err(|e| e.to_string())
}

pub(super) async fn run(args: &Args) -> Result<Rounds, String> {
    let log = open(args).await?;
    let _ = run_library(&args.warm_up(), Arc::new(log.clone())).await;
    drop_tables(log.drop_tables().await)?;
    log.pool().close().await;
    let log = open(args).await?;
    let _ = baseline(&args.warm_up(), log.clone()).await;
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
