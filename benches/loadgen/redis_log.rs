//! The Redis log target (`--log redis://…`) and its raw redis-rs baselines, measured in the same run:
//!
//! - `baseline` issues **the same commands** the log sends: `EVALSHA` of the log's own `create` and
//!   `append` scripts (loaded from `saga-redis/src/log/lua`), with the same 21 keys and arguments, one
//!   round trip per write, from a plain loop with no executor, serde or saga logic. The ratio is the
//!   library's overhead over the commands it needs.
//! - `baseline_plain_writes` makes the same *writes* without scripts: the instance hash, one record per
//!   event, the index sorted sets and (at the end) the terminal indexes and retention `PEXPIRE`, each
//!   write one `MULTI`/`EXEC`, with none of the scripts' version, fence and type checks. It shows what
//!   the scripts themselves cost on the server.
//!
//! Commits per saga are the log's own count of writing scripts ([`saga_redis::RedisLogStats::writes`]).
//! Two rounds of each, alternating, best of each (other work on a shared machine skews neither alone).

use std::sync::Arc;

use saga_redis::redis::{self, aio::ConnectionManager};
use saga_redis::{RedisLogConfig, RedisSagaLog};

use crate::redis_raw::{self, plan, record};
use crate::runner::{drive, run_library, Args, Stats};

fn prefix() -> String {
    format!("lg{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

async fn open(args: &Args) -> Result<RedisSagaLog, String> {
    RedisSagaLog::connect(
        &args.log,
        RedisLogConfig::default().with_key_prefix(prefix()),
    )
    .await
    .map_err(|e| e.to_string())
}

/// Opens a fresh log (new prefix), for the transport run and the recovery measurement.
pub async fn open_log(args: &Args) -> Result<RedisSagaLog, String> {
    open(args).await
}

/// Runs the library and the baselines; returns (library, commits per saga, script baseline, plain
/// baseline).
pub async fn run(args: &Args) -> Result<(Stats, Option<f64>, Stats, Stats), String> {
    let client = redis::Client::open(args.log.as_str()).map_err(|e| e.to_string())?;
    let conn = client
        .get_connection_manager()
        .await
        .map_err(|e| e.to_string())?;
    let warm = Args {
        sagas: (args.sagas / 10).max(1),
        ..args.clone()
    };
    let log = open(args).await?;
    let raw = prefix();
    let _ = run_library(&warm, Arc::new(log.clone())).await;
    let _ = scripted(&warm, conn.clone(), &raw).await;
    let _ = redis_raw::baseline(&warm, conn.clone(), &raw).await;
    let (mut lib, mut commits) = (None::<Stats>, 0.0);
    let (mut base, mut plain) = (None::<Stats>, None::<Stats>);
    let best = |a: Option<Stats>, b: Stats| match a {
        Some(a) if a.sagas_per_sec >= b.sagas_per_sec => Some(a),
        _ => Some(b),
    };
    for _ in 0..2 {
        base = best(base, scripted(args, conn.clone(), &raw).await);
        plain = best(plain, redis_raw::baseline(args, conn.clone(), &raw).await);
        let before = log.stats().writes;
        lib = best(lib, run_library(args, Arc::new(log.clone())).await);
        commits = (log.stats().writes - before) as f64 / args.sagas as f64;
    }
    log.delete_all().await.map_err(|e| e.to_string())?;
    delete_under(conn, &raw).await?;
    match (lib, base, plain) {
        (Some(lib), Some(base), Some(plain)) => Ok((lib, Some(commits), base, plain)),
        _ => Err("no round ran".into()),
    }
}

const COMMON: &str = include_str!("../../saga-redis/src/log/lua/common.lua");
const STATES: [&str; 6] = [
    "running",
    "compensating",
    "stuck",
    "completed",
    "compensated",
    "resolved",
];

/// The 21 keys of a saga in the scripts' order (saga-redis `Keys::saga`).
fn saga_keys(base: &str, id: &str) -> Vec<String> {
    let mut keys = vec![
        format!("{base}saga:{id}:inst"),
        format!("{base}saga:{id}:rec"),
        format!("{base}recoverable:1:loadgen"),
    ];
    keys.extend(STATES.iter().map(|s| format!("{base}state:{s}")));
    keys.extend(STATES.iter().map(|s| format!("{base}state:{s}:loadgen")));
    keys.extend(STATES[3..].iter().map(|s| format!("{base}expiry:{s}")));
    keys.extend(
        STATES[3..]
            .iter()
            .map(|s| format!("{base}expiry:{s}:loadgen")),
    );
    keys
}

/// The log's own scripts, invoked by hand: the same commands the log sends, without the log.
async fn scripted(args: &Args, conn: ConnectionManager, prefix: &str) -> Stats {
    let create = Arc::new(redis::Script::new(&format!(
        "{COMMON}\n{}",
        include_str!("../../saga-redis/src/log/lua/create.lua")
    )));
    let append = Arc::new(redis::Script::new(&format!(
        "{COMMON}\n{}",
        include_str!("../../saga-redis/src/log/lua/append.lua")
    )));
    let plan = Arc::new(plan(args));
    let prefix: Arc<str> = Arc::from(prefix);
    drive(args.sagas, args.concurrency, move |_| {
        let (mut conn, plan, prefix) = (conn.clone(), Arc::clone(&plan), Arc::clone(&prefix));
        let (create, append) = (Arc::clone(&create), Arc::clone(&append));
        async move {
            let uuid = uuid::Uuid::new_v4();
            let id = uuid.to_string();
            let base = format!("{prefix}:{{{prefix}:{}}}:", uuid.as_u128() % 16);
            let keys = saga_keys(&base, &id);
            let mut call = create.prepare_invoke();
            for k in &keys {
                call.key(k);
            }
            call.arg(&id)
                .arg("loadgen")
                .arg(1)
                .arg("raw")
                .arg(30_000)
                .arg("")
                .arg(record(1));
            let _: redis::Value = call.invoke_async(&mut conn).await.expect("create");
            let mut version = 1;
            for (i, events) in plan.iter().enumerate() {
                let state = if i + 1 == plan.len() {
                    "completed"
                } else {
                    "running"
                };
                let mut call = append.prepare_invoke();
                for k in &keys {
                    call.key(k);
                }
                call.arg(&base)
                    .arg(&id)
                    .arg(1)
                    .arg(version)
                    .arg(state)
                    .arg(30_000)
                    .arg(604_800_000u64);
                for k in 1..=*events {
                    call.arg(record(version + k));
                }
                let _: redis::Value = call.invoke_async(&mut conn).await.expect("append");
                version += events;
            }
        }
    })
    .await
}

/// Deletes every key under `prefix` (the baseline's).
pub async fn delete_under(mut conn: ConnectionManager, prefix: &str) -> Result<(), String> {
    let mut cursor = 0u64;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}:*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
        if !keys.is_empty() {
            let _: u64 = redis::cmd("UNLINK")
                .arg(&keys)
                .query_async(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
        }
        cursor = next;
        if cursor == 0 {
            return Ok(());
        }
    }
}
