//! The load generator (DESIGN §6): runs N sagas of S steps with C in flight against a log and a
//! transport, measures a raw baseline doing the same writes in the same run, and prints one JSON line.
//!
//! ```text
//! cargo bench --bench loadgen -- --log memory --transport inproc --sagas 200000 --concurrency 256 --steps 3
//! cargo bench --bench loadgen -- --log redis://127.0.0.1:6379 --sagas 5000 --concurrency 64 --steps 3
//! cargo bench --bench loadgen -- --transport redis://127.0.0.1:6379 --sagas 5000 --concurrency 64 --steps 3
//! ```

#[cfg(feature = "amqp")]
mod amqp;
mod line;
mod memory;
mod recovery;
#[cfg(feature = "redis")]
mod redis_log;
#[cfg(feature = "redis")]
mod redis_raw;
mod runner;
mod scale;
#[cfg(feature = "sqlx")]
mod sql;
#[cfg(feature = "redis")]
mod streams;
#[cfg(feature = "redis")]
mod streams_raw;

use std::sync::Arc;

#[cfg(any(feature = "sqlx", feature = "redis"))]
use line::add_rounds;
use line::{add_recovery, report, shown};
use runner::{run_library, Args};
use saga::InMemoryLog;

fn main() {
    let args = match Args::parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::exit(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let line = rt.block_on(async {
        if args.transport.starts_with("amqp://") || args.transport.starts_with("amqps://") {
            return run_amqp(&args).await;
        }
        if args.transport != "inproc" {
            return run_transport(&args).await;
        }
        if !args.preload.is_empty() {
            return run_scaling(&args).await;
        }
        if args.log == "memory" {
            Ok(run_memory(&args).await)
        } else if args.log.starts_with("redis") {
            run_redis_log(&args).await
        } else {
            run_sql(&args).await
        }
    });
    match line {
        Ok(json) => println!("{json}"),
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::exit(1);
        }
    }
}

async fn run_memory(args: &Args) -> serde_json::Value {
    // Warm-up, so allocator and runtime are in steady state for both contenders.
    let warm = Args {
        sagas: args.sagas / 10,
        ..args.clone()
    };
    let _ = memory::baseline(&warm).await;
    let _ = run_library(&warm, Arc::new(InMemoryLog::new())).await;

    // LOADGEN_ONLY=library|baseline runs one contender (for profiling); the ratio is then 1.
    match std::env::var("LOADGEN_ONLY").as_deref() {
        Ok("library") => {
            let lib = run_library(args, Arc::new(InMemoryLog::new())).await;
            return report(args, lib, None, lib);
        }
        Ok("baseline") => {
            let base = memory::baseline(args).await;
            return report(args, base, None, base);
        }
        _ => {}
    }
    // Two rounds, alternating baseline and library, best round of each: a burst of load from elsewhere
    // on a shared machine then skews neither side alone.
    let mut baseline = memory::baseline(args).await;
    let log = Arc::new(InMemoryLog::new());
    let mut lib = run_library(args, log.clone()).await;
    let stats = log.stats();
    let commits = (stats.creates + stats.appends) as f64 / args.sagas as f64;
    let second_baseline = memory::baseline(args).await;
    let second_lib = run_library(args, Arc::new(InMemoryLog::new())).await;
    if second_baseline.sagas_per_sec > baseline.sagas_per_sec {
        baseline = second_baseline;
    }
    if second_lib.sagas_per_sec > lib.sagas_per_sec {
        lib = second_lib;
    }
    let mut line = report(args, lib, Some(commits), baseline);
    if let Some(n) = args.recover {
        let recovery = recovery::run_recovery(args, n, Arc::new(InMemoryLog::new())).await;
        add_recovery(&mut line, n, &recovery, lib);
    }
    line
}

/// `--preload N,…`: the library's rate while the log already holds N finished sagas.
async fn run_scaling(args: &Args) -> Result<serde_json::Value, String> {
    if args.log == "memory" {
        return Ok(scale::run_memory(args, &args.preload).await);
    }
    #[cfg(feature = "sqlx")]
    {
        scale::run(args, &args.preload).await
    }
    #[cfg(not(feature = "sqlx"))]
    Err("--preload with a SQL log needs the `sqlx` feature".into())
}

#[cfg(feature = "sqlx")]
async fn run_sql(args: &Args) -> Result<serde_json::Value, String> {
    let (libs, commits, baselines) = sql::run(args).await?;
    let (Some(lib), Some(baseline)) = (runner::median(&libs), runner::median(&baselines)) else {
        return Err("no round ran".into());
    };
    let mut line = report(args, lib, commits, baseline);
    add_rounds(&mut line, &libs, &baselines);
    if let Some(n) = args.recover {
        let opened = sql::open(args).await?;
        let recovery = recovery::run_recovery(args, n, opened.log()).await;
        opened.drop_tables().await?;
        add_recovery(&mut line, n, &recovery, lib);
    }
    Ok(line)
}

/// `--transport redis://…`: remote steps over Redis Streams, with the log of `--log` (memory or
/// redis).
#[cfg(feature = "redis")]
async fn run_transport(args: &Args) -> Result<serde_json::Value, String> {
    if !args.transport.starts_with("redis") {
        return Err(format!(
            "transport {:?} is not supported by the load generator (inproc or redis://…)",
            shown(&args.transport)
        ));
    }
    let log: Arc<dyn saga::SagaLog> = if args.log == "memory" {
        Arc::new(InMemoryLog::new())
    } else if args.log.starts_with("redis") {
        Arc::new(redis_log::open_log(args).await?)
    } else {
        return Err("with --transport redis://…, --log is memory or redis://…".into());
    };
    let (lib, baseline) = streams::run(args, log).await?;
    Ok(report(args, lib, None, baseline))
}

#[cfg(not(feature = "redis"))]
async fn run_transport(args: &Args) -> Result<serde_json::Value, String> {
    Err(format!(
        "transport {:?} needs the `redis` feature",
        shown(&args.transport)
    ))
}

/// `--log redis://…`: the `RedisSagaLog` against a raw redis-rs loop making the same writes.
#[cfg(feature = "redis")]
async fn run_redis_log(args: &Args) -> Result<serde_json::Value, String> {
    let r = redis_log::run(args).await?;
    let medians = (
        runner::median(&r.library),
        runner::median(&r.baseline),
        runner::median(&r.plain),
    );
    let (Some(lib), Some(baseline), Some(plain)) = medians else {
        return Err("no round ran".into());
    };
    let mut line = report(args, lib, Some(r.commits), baseline);
    line["round_trips_per_saga"] = serde_json::json!((r.round_trips * 100.0).round() / 100.0);
    line["baseline_plain_writes"] = plain.json();
    add_rounds(&mut line, &r.library, &r.baseline);
    if let Some(n) = args.recover {
        let log = redis_log::open_log(args).await?;
        let recovery = recovery::run_recovery(args, n, Arc::new(log.clone())).await;
        log.delete_all().await.map_err(|e| e.to_string())?;
        add_recovery(&mut line, n, &recovery, lib);
    }
    Ok(line)
}

#[cfg(not(feature = "redis"))]
async fn run_redis_log(_args: &Args) -> Result<serde_json::Value, String> {
    Err("log redis://… needs the `redis` feature".into())
}

/// Sagas whose steps are remote commands over RabbitMQ, against the raw lapin loop (see `amqp.rs`).
/// Two rounds after a warm-up, alternating, best of each; the line shows the URL without its password.
#[cfg(feature = "amqp")]
async fn run_amqp(args: &Args) -> Result<serde_json::Value, String> {
    let warm = args.warm_up();
    let _ = amqp::baseline(&warm).await?;
    let _ = amqp::run_library(&warm, amqp_log(args).await?.0).await?;
    let mut baseline = amqp::baseline(args).await?;
    let (log, memory) = amqp_log(args).await?;
    let mut lib = amqp::run_library(args, log).await?;
    let commits = memory.map(|m| {
        let s = m.stats();
        (s.creates + s.appends) as f64 / args.sagas as f64
    });
    let second_baseline = amqp::baseline(args).await?;
    let second_lib = amqp::run_library(args, amqp_log(args).await?.0).await?;
    if second_baseline.sagas_per_sec > baseline.sagas_per_sec {
        baseline = second_baseline;
    }
    if second_lib.sagas_per_sec > lib.sagas_per_sec {
        lib = second_lib;
    }
    let shown = Args {
        transport: saga_amqp::redact_url(&args.transport),
        ..args.clone()
    };
    Ok(report(&shown, lib, commits, baseline))
}

/// The log of an amqp run: the in-memory log (also returned, for its write counts) or a SQL log.
#[cfg(feature = "amqp")]
async fn amqp_log(
    args: &Args,
) -> Result<(Arc<dyn saga::SagaLog>, Option<Arc<InMemoryLog>>), String> {
    if args.log == "memory" {
        let log = Arc::new(InMemoryLog::new());
        return Ok((log.clone(), Some(log)));
    }
    #[cfg(feature = "sqlx")]
    {
        Ok((sql::open(args).await?.log(), None))
    }
    #[cfg(not(feature = "sqlx"))]
    {
        Err("SQL logs need the `sqlx` feature".to_owned())
    }
}

#[cfg(not(feature = "amqp"))]
async fn run_amqp(_args: &Args) -> Result<serde_json::Value, String> {
    Err("the amqp transport needs the `amqp` feature".to_owned())
}

#[cfg(not(feature = "sqlx"))]
async fn run_sql(args: &Args) -> Result<serde_json::Value, String> {
    Err(format!(
        "log {:?} needs the `sqlx` feature (and `postgres`/`mysql` for those URLs)",
        args.log.split("://").next().unwrap_or_default()
    ))
}
