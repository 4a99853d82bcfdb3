//! Racing executors on the SQL logs: a lease holder paused past its expiry resumes after another
//! executor took the saga over; on PostgreSQL 1,000 races (10,000 with `SAGA_LONG_FAULTS=1`, or
//! `SAGA_LEASE_RACES`), on SQLite 200, 0 stale writes committed.
#![cfg_attr(
    not(any(feature = "postgres", feature = "sqlite")),
    allow(dead_code, unused_imports)
)]

mod common;

use std::sync::Arc;

use saga::testing::fault_scale;
use saga::testing::lease_race::{LeaseRace, RaceReport};

fn check(report: &RaceReport, races: u64) {
    assert_eq!(report.races, races);
    assert_eq!(report.stale_committed, 0, "stale writes committed");
    assert_eq!(report.owner_failed, 0, "the new owner's writes failed");
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_paused_lease_holder_never_commits_a_stale_write() {
    let config = saga_sqlx::SqlLogConfig::default()
        .with_table_prefix(common::prefix())
        .with_max_connections(32);
    let Some(log) = common::postgres(config).await else {
        return;
    };
    let races = fault_scale("SAGA_LEASE_RACES", 1_000, 10_000);
    let report = LeaseRace::new(races)
        .with_concurrency(32)
        .run(Arc::new(log.clone()))
        .await;
    println!("lease races, postgres log: {report:?}");
    log.drop_tables().await.expect("drop");
    check(&report, races);
}

#[cfg(feature = "sqlite")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_paused_lease_holder_never_commits_a_stale_write() {
    let (log, _dir) = common::sqlite(saga_sqlx::SqlLogConfig::default()).await;
    let report = LeaseRace::new(200).run(Arc::new(log)).await;
    println!("lease races, sqlite log: {report:?}");
    check(&report, 200);
}
