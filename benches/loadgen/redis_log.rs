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
//! `--rounds` rounds of each (default 2), alternating; the caller takes the median of each (other work
//! on a shared machine skews neither alone). `--batching off` turns the log's batching off.

use std::sync::Arc;

use saga_redis::redis::{self, aio::ConnectionManager};
use saga_redis::{RedisLogConfig, RedisSagaLog};

use crate::redis_raw::{self, plan, record};
use crate::runner::{drive, run_library, Args, Stats};

fn prefix() -> String {
    format!("lg{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

async fn open(args: &Args) -> Result<RedisSagaLog, String> {
    RedisSagaLog::connect(&args.log, config(args).with_key_prefix(prefix()))
        .await
        .map_err(|e| e.to_string())
}

fn config(args: &Args) -> RedisLogConfig {
    let config = RedisLogConfig::default();
    if args.batching {
        config
    } else {
        config.without_batching()
    }
}

/// Opens a fresh log (new prefix), for the transport run and the recovery measurement.
pub async fn open_log(args: &Args) -> Result<RedisSagaLog, String> {
    open(args).await
}

/// Every round of one run.
pub struct Rounds {
    pub library: Vec<Stats>,
    /// Writing scripts per saga (the last round).
    pub commits: f64,
    /// Requests to the server per saga (the last round): below `commits` when writes share pipelines.
    pub round_trips: f64,
    pub baseline: Vec<Stats>,
    pub plain: Vec<Stats>,
}

/// Runs the library and the baselines, `args.rounds` times, alternating.
pub async fn run(args: &Args) -> Result<Rounds, String> {
    let client = redis::Client::open(args.log.as_str()).map_err(|e| e.to_string())?;
    let conn = client
        .get_connection_manager()
        .await
        .map_err(|e| e.to_string())?;
    let warm = args.warm_up();
    let log = open(args).await?;
    let raw = prefix();
    let _ = run_library(&warm, Arc::new(log.clone())).await;
    let _ = scripted(&warm, conn.clone(), &raw).await;
    let _ = redis_raw::baseline(&warm, conn.clone(), &raw).await;
    let mut out = Rounds {
        library: Vec::new(),
        commits: 0.0,
        round_trips: 0.0,
        baseline: Vec::new(),
        plain: Vec::new(),
    };
    let per_saga = |n: u64| n as f64 / args.sagas as f64;
    for _ in 0..args.rounds {
        out.baseline.push(scripted(args, conn.clone(), &raw).await);
        out.plain
            .push(redis_raw::baseline(args, conn.clone(), &raw).await);
        let before = log.stats();
        out.library
            .push(run_library(args, Arc::new(log.clone())).await);
        let after = log.stats();
        out.commits = per_saga(after.writes - before.writes);
        out.round_trips = per_saga(after.round_trips - before.round_trips);
    }
    log.delete_all().await.map_err(|e| e.to_string())?;
    delete_under(conn, &raw).await?;
    Ok(out)
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
