//! Scaling (`--preload 1000,100000,1000000`): the library's throughput and p99 while the log already
//! holds N finished sagas. For each N a fresh log (new table prefix) is filled with N copies of one
//! finished saga's rows — the instance row and its step-log rows, each copy under a new id, written by
//! one `INSERT … SELECT` per table in the database itself, since a million sagas through the library
//! would take longer than the measurement — then `--rounds` runs of the library go on that log, and
//! the tables are dropped. The line reports each level and `flat`: the slowest level's median rate over
//! the fastest's (DESIGN §6 wants ≥ 0.8, flat within 20 %). In-memory log: the same with sagas run
//! through the library (it has no SQL to copy with), so keep N small there.

use std::sync::Arc;

use saga::SagaLog;

use crate::runner::{median, run_library, Args, Stats};
#[cfg(feature = "sqlx")]
use crate::sql::{self, Dialect, Opened};

/// One level's figures.
struct Level {
    preloaded: usize,
    seconds_to_preload: f64,
    stats: Stats,
}

/// Runs the scaling measurement for every level of `levels` and returns the JSON line.
#[cfg(feature = "sqlx")]
pub async fn run(args: &Args, levels: &[usize]) -> Result<serde_json::Value, String> {
    let mut out = Vec::new();
    for &n in levels {
        let opened = sql::open(args).await?;
        let log = opened.log();
        // The template: one saga run to its end through the library.
        let _ = run_library(
            &Args {
                sagas: 1,
                ..args.clone()
            },
            Arc::clone(&log),
        )
        .await;
        let start = std::time::Instant::now();
        if n > 1 {
            preload(&opened, n - 1).await?;
        }
        let seconds_to_preload = start.elapsed().as_secs_f64();
        let held = opened.count_sagas().await?;
        if usize::try_from(held).ok() != Some(n.max(1)) {
            return Err(format!("preloaded {held} sagas, not {n}"));
        }
        // Warm-up (pool connections, prepared statements), as the other runs have.
        let _ = run_library(&args.warm_up(), Arc::clone(&log)).await;
        let mut rounds = Vec::new();
        for _ in 0..args.rounds {
            rounds.push(run_library(args, Arc::clone(&log)).await);
        }
        opened.drop_tables().await?;
        let stats = median(&rounds).ok_or("no round ran")?;
        out.push(Level {
            preloaded: n,
            seconds_to_preload,
            stats,
        });
    }
    Ok(line(args, &out))
}

/// The in-memory log's scaling: N sagas run through the library first.
pub async fn run_memory(args: &Args, levels: &[usize]) -> serde_json::Value {
    let mut out = Vec::new();
    for &n in levels {
        let log: Arc<dyn SagaLog> = Arc::new(saga::InMemoryLog::new());
        let start = std::time::Instant::now();
        let _ = run_library(
            &Args {
                sagas: n,
                ..args.clone()
            },
            Arc::clone(&log),
        )
        .await;
        let seconds_to_preload = start.elapsed().as_secs_f64();
        let _ = run_library(&args.warm_up(), Arc::clone(&log)).await;
        let mut rounds = Vec::new();
        for _ in 0..args.rounds {
            rounds.push(run_library(args, Arc::clone(&log)).await);
        }
        if let Some(stats) = median(&rounds) {
            out.push(Level {
                preloaded: n,
                seconds_to_preload,
                stats,
            });
        }
    }
    line(args, &out)
}

fn line(args: &Args, levels: &[Level]) -> serde_json::Value {
    let rates: Vec<f64> = levels.iter().map(|l| l.stats.sagas_per_sec).collect();
    let (lo, hi) = rates
        .iter()
        .fold((f64::MAX, 0.0_f64), |(lo, hi), r| (lo.min(*r), hi.max(*r)));
    serde_json::json!({
        "log": args.log.split("://").next().unwrap_or_default(),
        "sagas": args.sagas,
        "concurrency": args.concurrency,
        "steps": args.steps,
        "batching": args.batching,
        "rounds": args.rounds,
        "scaling": levels.iter().map(|l| {
            let mut v = l.stats.json();
            v["preloaded"] = serde_json::json!(l.preloaded);
            v["seconds_to_preload"] = serde_json::json!((l.seconds_to_preload * 10.0).round() / 10.0);
            v
        }).collect::<Vec<_>>(),
        "flat": if hi > 0.0 { (lo / hi * 1000.0).round() / 1000.0 } else { 0.0 },
    })
}

/// Copies the one saga in `opened`'s tables `n` times under new ids, on one connection: the template
/// rows go to temporary tables first, then each chunk of new ids gets a copy in one transaction.
#[cfg(feature = "sqlx")]
async fn preload(opened: &Opened, n: usize) -> Result<(), String> {
    // Chunks keep each transaction (and the database's undo) bounded.
    const CHUNK: usize = 100_000;
    let (i, l) = tables(opened.table_prefix());
    let (temp, id_type) = match opened.dialect() {
        Dialect::Sqlite => ("TEMP", "TEXT"),
        Dialect::Postgres => ("TEMP", "UUID"),
        Dialect::MySql => ("TEMPORARY", "BINARY(16)"),
    };
    let mut setup = vec![
        format!("CREATE {temp} TABLE lg_tpl_i AS SELECT * FROM {i}"),
        format!("CREATE {temp} TABLE lg_tpl_l AS SELECT * FROM {l}"),
        format!("CREATE {temp} TABLE lg_ids (id {id_type} PRIMARY KEY)"),
    ];
    let mut left = n;
    while left > 0 {
        let k = left.min(CHUNK);
        left -= k;
        let fill = match opened.dialect() {
            Dialect::Sqlite => format!(
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {k}) \
                 INSERT INTO lg_ids SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) \
                 || '-4' || substr(hex(randomblob(2)), 2) || '-a' || substr(hex(randomblob(2)), 2) \
                 || '-' || hex(randomblob(6))) FROM c"
            ),
            Dialect::Postgres => {
                format!("INSERT INTO lg_ids SELECT gen_random_uuid() FROM generate_series(1, {k})")
            }
            // MariaDB's sequence engine: seq_1_to_<k> is a table of 1..=k.
            Dialect::MySql => {
                format!(
                    "INSERT INTO lg_ids SELECT UNHEX(REPLACE(UUID(), '-', '')) FROM seq_1_to_{k}"
                )
            }
        };
        setup.extend([
            "DELETE FROM lg_ids".to_owned(),
            fill,
            "BEGIN".to_owned(),
            format!(
                "INSERT INTO {i} SELECT n.id, t.definition, t.definition_version, t.state, t.version, \
                 t.owner, t.fence, t.lease_until_ms, t.deadline_at_ms, t.created_at_ms, t.updated_at_ms \
                 FROM lg_ids n CROSS JOIN lg_tpl_i t"
            ),
            format!(
                "INSERT INTO {l} SELECT n.id, s.seq, s.kind, s.step, s.attempt, s.detail, s.payload, \
                 s.at_ms FROM lg_ids n CROSS JOIN lg_tpl_l s"
            ),
            "COMMIT".to_owned(),
        ]);
    }
    setup.extend(["lg_ids", "lg_tpl_l", "lg_tpl_i"].map(|t| format!("DROP TABLE {t}")));
    // A log that grew to N sagas over time has had its statistics gathered and its dirty pages
    // written out; one filled in a few seconds has not, and the checkpoint or autovacuum the bulk
    // insert triggers would land on the measured run. Settle first.
    setup.extend(match opened.dialect() {
        Dialect::Sqlite => vec![
            "ANALYZE".to_owned(),
            "PRAGMA wal_checkpoint(TRUNCATE)".to_owned(),
        ],
        Dialect::Postgres => vec![
            format!("VACUUM ANALYZE {i}"),
            format!("VACUUM ANALYZE {l}"),
            "CHECKPOINT".to_owned(),
        ],
        Dialect::MySql => vec![format!("ANALYZE TABLE {i}, {l}")],
    });
    opened.execute_on_one_connection(&setup).await
}

#[cfg(feature = "sqlx")]
fn tables(prefix: &str) -> (String, String) {
    (
        format!("{prefix}saga_instances"),
        format!("{prefix}saga_step_logs"),
    )
}
