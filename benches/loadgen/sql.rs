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

mod lite;
#[cfg(feature = "mysql")]
mod my;
#[cfg(feature = "postgres")]
mod pg;
