//! The plain-writes baseline of the Redis log target (`baseline_plain_writes`): the log's writes as
//! `MULTI`/`EXEC` pipelines without scripts or checks, and the record bodies both baselines write.

use std::sync::Arc;

use saga_redis::redis::{self, aio::ConnectionManager};

use crate::runner::{drive, Args, Stats};

/// The events of each write of one saga: the create, then one append per step (the last one also
/// carries the end); with `--fail-at k` the refusal and the compensations instead.
pub fn plan(args: &Args) -> Vec<usize> {
    match args.fail_at {
        None => (1..=args.steps)
            .map(|i| if i == args.steps { 2 } else { 1 })
            .collect(),
        Some(k) => {
            let mut p = vec![1; k];
            p.extend((1..k).map(|j| if j == k - 1 { 2 } else { 1 }));
            p
        }
    }
}

/// One record body of the size the log writes (format byte, sequence, kind, flags, step, payload).
pub fn record(seq: usize) -> Vec<u8> {
    let mut body = vec![1u8];
    body.extend_from_slice(&(seq as u64).to_be_bytes());
    body.push(14);
    body.extend_from_slice(b"step_completed");
    body.push(9);
    body.extend_from_slice(&0u32.to_be_bytes());
    body.extend_from_slice(&4u32.to_be_bytes());
    body.extend_from_slice(b"null");
    body
}

pub async fn baseline(args: &Args, conn: ConnectionManager, prefix: &str) -> Stats {
    let plan = Arc::new(plan(args));
    let prefix: Arc<str> = Arc::from(prefix);
    let steps = plan.len();
    drive(args.sagas, args.concurrency, move |_| {
        let (mut conn, plan, prefix) = (conn.clone(), Arc::clone(&plan), Arc::clone(&prefix));
        async move {
            let id = uuid::Uuid::now_v7();
            let base = format!("{prefix}:{{{prefix}:{}}}:", id.as_u128() % 16);
            let (inst, rec) = (
                format!("{base}saga:{id}:inst"),
                format!("{base}saga:{id}:rec"),
            );
            let now = crate::runner::now_ms();
            let (recoverable, running) = (
                format!("{base}recoverable:1:loadgen"),
                format!("{base}state:running"),
            );
            let mut create = redis::pipe();
            create
                .atomic()
                .hset_multiple(
                    &inst,
                    &[
                        ("def", "loadgen".to_owned()),
                        ("dver", "1".to_owned()),
                        ("state", "running".to_owned()),
                        ("version", "1".to_owned()),
                        ("owner", "raw".to_owned()),
                        ("fence", "1".to_owned()),
                        ("lease_until", (now + 30_000).to_string()),
                        ("created", now.to_string()),
                        ("updated", now.to_string()),
                    ],
                )
                .ignore()
                .rpush(&rec, record(1))
                .ignore()
                .zadd(&recoverable, id.to_string(), 0)
                .ignore()
                .zadd(&running, id.to_string(), 0)
                .ignore()
                .zadd(format!("{running}:loadgen"), id.to_string(), 0)
                .ignore();
            let () = create.query_async(&mut conn).await.expect("create");
            let mut version = 1;
            for (i, events) in plan.iter().enumerate() {
                let last = i + 1 == steps;
                let state = if last { "completed" } else { "running" };
                let mut append = redis::pipe();
                append.atomic().hset_multiple(
                    &inst,
                    &[
                        ("state", state.to_owned()),
                        ("version", (version + events).to_string()),
                        ("lease_until", (now + 30_000).to_string()),
                        ("updated", now.to_string()),
                    ],
                );
                append.ignore();
                for k in 1..=*events {
                    append.rpush(&rec, record(version + k)).ignore();
                }
                if last {
                    let done = format!("{base}state:completed");
                    append
                        .zrem(&recoverable, id.to_string())
                        .ignore()
                        .zrem(&running, id.to_string())
                        .ignore()
                        .zrem(format!("{running}:loadgen"), id.to_string())
                        .ignore()
                        .zadd(&done, id.to_string(), 0)
                        .ignore()
                        .zadd(format!("{done}:loadgen"), id.to_string(), 0)
                        .ignore()
                        .zadd(format!("{base}expiry:completed"), id.to_string(), now)
                        .ignore()
                        .pexpire(&inst, 604_800_000)
                        .ignore()
                        .pexpire(&rec, 604_800_000)
                        .ignore();
                }
                let () = append.query_async(&mut conn).await.expect("append");
                version += events;
            }
        }
    })
    .await
}
