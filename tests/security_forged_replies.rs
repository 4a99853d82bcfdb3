//! Security on the in-process transport: 10,000 forged or replayed replies (`SAGA_FORGED_REPLIES`
//! overrides) are accepted 0 times; every request gets its genuine reply, exactly once.

use std::sync::Arc;

use saga::testing::forgery::ForgedReplies;
use saga::InProcTransport;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_and_replayed_replies_are_never_accepted_in_process() {
    let forged = saga::testing::fault_scale("SAGA_FORGED_REPLIES", 10_000, 10_000);
    let report = ForgedReplies::new(forged)
        .run(Arc::new(InProcTransport::new()), "inproc")
        .await;
    println!("forged replies, in-process: {report:?}");
    assert!(report.forged >= forged);
    assert_eq!(report.forged_accepted, 0);
    assert_eq!(report.genuine_accepted, report.requests);
}
