//! Id order across shards: `list` and claims merge one index per shard, page by page, and still return
//! ids in ascending order with nothing skipped or repeated.

mod common;

use std::time::Duration;

use bytes::Bytes;
use saga::log::{Append, ClaimRequest, ClaimTarget, Lease, ListQuery, NewSaga};
use saga::{LogEvent, SagaId, SagaLog, SagaState};

const SAGAS: usize = 60;

#[tokio::test]
async fn list_and_claims_page_in_id_order_across_shards() {
    let Some(log) = common::log(common::config()).await else {
        return;
    };
    let _guard = common::guard(&log);
    let def = format!("paging-{}", uuid::Uuid::new_v4().simple());
    let mut ids = Vec::new();
    for n in 0..SAGAS {
        let saga = NewSaga::new(
            SagaId::new(),
            &def,
            1,
            Bytes::from_static(b"{}"),
            "dead",
            Duration::ZERO,
        );
        let id = saga.id;
        log.create(saga).await.expect("create");
        if n % 3 == 0 {
            let done = [LogEvent::Completed];
            let append = Append::new(
                id,
                1,
                Lease { fence: 1 },
                SagaState::Completed,
                &done,
                Duration::ZERO,
            );
            log.append(append).await.expect("complete");
        }
        ids.push((id, n % 3 != 0));
    }
    ids.sort();
    let running: Vec<SagaId> = ids
        .iter()
        .filter(|(_, open)| *open)
        .map(|(id, _)| *id)
        .collect();
    let everything: Vec<SagaId> = ids.iter().map(|(id, _)| *id).collect();

    let first = log
        .list(ListQuery::in_states([SagaState::Running], 7).for_definition(&def))
        .await
        .expect("list");
    assert_eq!(first.iter().map(|i| i.id).collect::<Vec<_>>(), running[..7]);
    let all = log
        .list(ListQuery::in_states([], 1000).for_definition(&def))
        .await
        .expect("list");
    assert_eq!(all.iter().map(|i| i.id).collect::<Vec<_>>(), everything);
    let both = log
        .list(
            ListQuery::in_states([SagaState::Completed, SagaState::Running], 1000)
                .for_definition(&def),
        )
        .await
        .expect("list");
    assert_eq!(both.len(), SAGAS);

    for limit in [1, 5, 64] {
        let owner = format!("pager-{limit}");
        let mut after = None;
        let mut claimed = Vec::new();
        loop {
            let target = ClaimTarget::Recoverable { limit, after };
            let batch = log
                .claim(ClaimRequest::new(&def, 1, &owner, Duration::ZERO, target))
                .await
                .expect("claim");
            let Some(last) = batch.last_id() else {
                break;
            };
            assert!(batch.claimed.len() <= limit);
            assert!(after.is_none_or(|a| batch.claimed.iter().all(|c| c.snapshot.instance.id > a)));
            claimed.extend(batch.claimed.iter().map(|c| c.snapshot.instance.id));
            after = Some(last);
        }
        assert_eq!(
            claimed, running,
            "limit {limit}: every open saga once, in id order"
        );
    }
    common::cleanup(&log).await;
}
