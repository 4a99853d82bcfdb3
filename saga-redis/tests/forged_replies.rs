//! Security on the Redis transport: 2,000 forged or replayed replies (10,000 with
//! `SAGA_LONG_FAULTS=1`, or `SAGA_FORGED_REPLIES`) are accepted 0 times; every request gets its genuine reply, exactly once.

mod common;

use std::sync::Arc;

use saga::testing::forgery::ForgedReplies;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_replayed_replies_are_never_accepted_over_redis() {
    let prefix = common::prefix();
    let _guard = common::Guard(prefix.clone());
    let Some(transport) = common::transport(common::transport_config(&prefix)).await else {
        return;
    };
    let forged = saga::testing::fault_scale("SAGA_FORGED_REPLIES", 2_000, 10_000);
    let report = ForgedReplies::new(forged)
        .with_concurrency(32)
        .run(Arc::new(transport), &prefix)
        .await;
    println!("forged replies, redis: {report:?}");
    assert!(report.forged >= forged);
    assert_eq!(report.forged_accepted, 0);
    assert_eq!(report.genuine_accepted, report.requests);
}
