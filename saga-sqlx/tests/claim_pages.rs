//! A claim of more recoverable sagas than one statement takes (MySQL binds at most 65,535 parameters,
//! so its page claim goes a chunk of 1,000 at a time): every saga is claimed exactly once, with its
//! fence bumped, whatever the page size; on every backend, so the three stay alike.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use bytes::Bytes;
use saga::log::{ClaimRequest, ClaimTarget, NewSaga};
use saga::{SagaId, SagaLog};
use saga_sqlx::SqlLogConfig;

const SAGAS: usize = 2_500;

/// Creates `SAGAS` sagas whose lease has already expired, claims them in one page, and checks the page.
async fn one_page_claims_every_expired_saga(log: &dyn SagaLog) {
    let definition = format!("pages-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let mut ids = HashSet::new();
    for _ in 0..SAGAS {
        let id = SagaId::new();
        let new = NewSaga::new(
            id,
            definition.as_str(),
            1,
            Bytes::from_static(b"{}"),
            "dead-executor",
            Duration::ZERO,
        );
        log.create(new).await.expect("create");
        ids.insert(id);
    }
    let claim = ClaimRequest::new(
        definition.as_str(),
        1,
        "recovering-executor",
        Duration::from_secs(30),
        ClaimTarget::Recoverable {
            limit: SAGAS * 2,
            after: None,
        },
    );
    let batch = log.claim(claim).await.expect("claim");
    let claimed: Vec<SagaId> = batch
        .claimed
        .iter()
        .map(|c| c.snapshot.instance.id)
        .collect();
    assert_eq!(claimed.len(), SAGAS, "every expired saga claimed");
    assert_eq!(claimed.iter().copied().collect::<HashSet<_>>(), ids);
    assert!(claimed.windows(2).all(|w| w[0] < w[1]), "in id order");
    assert!(
        batch.claimed.iter().all(|c| c.lease.fence == 2),
        "each fence bumped once"
    );
    assert!(batch.corrupt.is_empty());
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn mysql_claims_a_page_larger_than_a_statement_chunk() {
    let config = SqlLogConfig::default().with_table_prefix(common::prefix());
    let Some(log) = common::mysql(config).await else {
        return;
    };
    one_page_claims_every_expired_saga(&log).await;
    log.drop_tables().await.expect("drop");
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_claims_a_large_page() {
    let config = SqlLogConfig::default().with_table_prefix(common::prefix());
    let Some(log) = common::postgres(config).await else {
        return;
    };
    one_page_claims_every_expired_saga(&log).await;
    log.drop_tables().await.expect("drop");
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_claims_a_large_page() {
    let (log, _dir) = common::sqlite(SqlLogConfig::default()).await;
    one_page_claims_every_expired_saga(&log).await;
}
