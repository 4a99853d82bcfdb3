//! The MySQL/MariaDB target (`--log mysql://…`) and its raw sqlx baseline.

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
