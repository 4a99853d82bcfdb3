//! A saga whose stored rows do not decode never stops the claim of the others: recovery-style paging
//! claims every healthy saga, reports each corrupt one (with its id and a bounded reason) in
//! `ClaimBatch::corrupt`, and leaves no lease on it, so another owner finds it free. `load` of a
//! corrupt saga is `LogError::Corrupt`. Corrupt rows are written with raw SQL into a real log.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::Bytes;
use saga::log::{ClaimBatch, ClaimRequest, ClaimTarget, CorruptSaga, NewSaga};
use saga::{LogError, SagaId, SagaLog};
use saga_sqlx::SqlLogConfig;

const DEF: &str = "corrupt";
const HEALTHY: usize = 10;
const PAGE: usize = 3;

/// A corruption: what it breaks, and its SQL with `{i}` (instances), `{l}` (step logs), `{id}`.
type Corruption = (&'static str, &'static str);

/// Corruptions a `Recoverable` claim meets (the saga stays running), on every backend.
const RECOVERABLE: [Corruption; 5] = [
    (
        "null payload",
        "UPDATE {l} SET payload = NULL WHERE saga_id = {id}",
    ),
    (
        "unknown kind",
        "UPDATE {l} SET kind = 'exploded' WHERE saga_id = {id}",
    ),
    (
        "negative seq",
        "UPDATE {l} SET seq = -1 WHERE saga_id = {id}",
    ),
    (
        "negative version",
        "UPDATE {i} SET version = -3 WHERE id = {id}",
    ),
    (
        "negative creation time",
        "UPDATE {i} SET created_at_ms = -1 WHERE id = {id}",
    ),
];

#[cfg(feature = "sqlite")]
/// Corruptions only SQLite can store: a column of the wrong type, text that is not UTF-8.
const SQLITE_ONLY: [Corruption; 3] = [
    (
        "integer payload",
        "UPDATE {l} SET payload = 42 WHERE saga_id = {id}",
    ),
    (
        "integer kind",
        "UPDATE {l} SET kind = 7 WHERE saga_id = {id}",
    ),
    (
        "non-UTF-8 detail",
        "UPDATE {l} SET detail = CAST(x'ff' AS TEXT) WHERE saga_id = {id}",
    ),
];

/// A corruption only `ClaimTarget::One` meets (the state is no longer running or compensating).
const ONE_ONLY: Corruption = (
    "unknown state",
    "UPDATE {i} SET state = 'exploded' WHERE id = {id}",
);

/// Raw SQL on one backend's log; `lit` writes a saga id as that backend stores it.
struct Raw<DB: sqlx::Database> {
    pool: sqlx::Pool<DB>,
    prefix: String,
    lit: fn(SagaId) -> String,
}

impl<DB> Raw<DB>
where
    DB: sqlx::Database,
    for<'c> &'c sqlx::Pool<DB>: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    i64: for<'r> sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    fn sql(&self, template: &str, id: SagaId) -> String {
        template
            .replace("{i}", &format!("{}saga_instances", self.prefix))
            .replace("{l}", &format!("{}saga_step_logs", self.prefix))
            .replace("{id}", &(self.lit)(id))
    }

    async fn exec(&self, template: &str, id: SagaId) {
        sqlx::raw_sql(&self.sql(template, id))
            .execute(&self.pool)
            .await
            .expect("raw sql");
    }

    /// Whether saga `id` has an owner or a lease expiry.
    async fn leased(&self, id: SagaId) -> bool {
        let sql = "SELECT COUNT(*) FROM {i} WHERE id = {id} \
                   AND (owner IS NOT NULL OR lease_until_ms IS NOT NULL)";
        let n: i64 = sqlx::query_scalar(&self.sql(sql, id))
            .fetch_one(&self.pool)
            .await
            .expect("count");
        n > 0
    }
}

fn claim(owner: &str, target: ClaimTarget) -> ClaimRequest {
    ClaimRequest::new(DEF, 1, owner, Duration::from_secs(600), target)
}

/// Pages through `Recoverable` claims of `owner` to the end, as `Executor::recover` does.
async fn recover(log: &impl SagaLog, owner: &str) -> (BTreeSet<SagaId>, Vec<CorruptSaga>) {
    let (mut claimed, mut corrupt, mut after) = (BTreeSet::new(), Vec::new(), None);
    loop {
        let target = ClaimTarget::Recoverable { limit: PAGE, after };
        let batch: ClaimBatch = log
            .claim(claim(owner, target))
            .await
            .expect("a corrupt saga does not fail the claim");
        let Some(last) = batch.last_id() else {
            return (claimed, corrupt);
        };
        assert!(after < Some(last), "the cursor moves on");
        after = Some(last);
        claimed.extend(batch.claimed.iter().map(|c| c.snapshot.instance.id));
        corrupt.extend(batch.corrupt);
    }
}

async fn scenario<L, DB>(log: &L, raw: &Raw<DB>, extra: &[Corruption])
where
    L: SagaLog,
    DB: sqlx::Database,
    for<'c> &'c sqlx::Pool<DB>: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    i64: for<'r> sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    let mut ids = Vec::new();
    let corruptions: Vec<Corruption> = RECOVERABLE.iter().chain(extra).copied().collect();
    for _ in 0..HEALTHY + corruptions.len() + 1 {
        let id = SagaId::new();
        let data = Bytes::from_static(b"{}");
        // A zero lease: every saga is abandoned, hence recoverable, from the start.
        log.create(NewSaga::new(id, DEF, 1, data, "dead", Duration::ZERO))
            .await
            .expect("create");
        ids.push(id);
    }
    let (healthy, rest) = ids.split_at(HEALTHY);
    let (bad, one_only) = rest.split_at(corruptions.len());
    for ((_, sql), id) in corruptions.iter().zip(bad) {
        raw.exec(sql, *id).await;
    }
    raw.exec(ONE_ONLY.1, one_only[0]).await;

    let (claimed, corrupt) = recover(log, "a").await;
    assert_eq!(
        claimed,
        healthy.iter().copied().collect(),
        "every healthy saga"
    );
    let reported: BTreeSet<SagaId> = corrupt.iter().map(|c| c.id).collect();
    assert_eq!(
        reported,
        bad.iter().copied().collect(),
        "every corrupt saga"
    );
    for ((what, _), id) in corruptions.iter().zip(bad) {
        let report = corrupt.iter().find(|c| c.id == *id).expect("reported");
        assert!(
            !report.reason.is_empty() && report.reason.len() <= CorruptSaga::MAX_REASON,
            "{what}: {report:?}"
        );
        assert!(!raw.leased(*id).await, "{what}: no lease is left on it");
    }
    for id in healthy {
        assert!(raw.leased(*id).await, "a claimed saga is leased");
    }

    // Another owner finds the corrupt sagas free (reported again, not "owned elsewhere"), the
    // healthy ones taken.
    let (claimed, corrupt) = recover(log, "b").await;
    assert!(claimed.is_empty(), "the healthy sagas are a's");
    assert_eq!(corrupt.len(), bad.len());
    for id in bad.iter().chain(one_only) {
        let batch = log
            .claim(claim("b", ClaimTarget::One(*id)))
            .await
            .expect("claim one");
        assert!(batch.claimed.is_empty());
        assert_eq!(
            batch.corrupt.iter().map(|c| c.id).collect::<Vec<_>>(),
            [*id],
            "reported, not owned elsewhere"
        );
        assert!(!raw.leased(*id).await, "still no lease");
        match log.load(*id).await {
            Err(LogError::Corrupt { saga_id, .. }) => assert_eq!(saga_id, *id),
            other => panic!("load of a corrupt saga: {other:?}"),
        }
    }
}

fn config() -> SqlLogConfig {
    SqlLogConfig::default().with_table_prefix(common::prefix())
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_claims_around_corrupt_sagas() {
    let (log, _dir) = common::sqlite(config()).await;
    let raw = Raw {
        pool: log.pool().clone(),
        prefix: log.table_prefix().to_owned(),
        lit: |id| format!("'{id}'"),
    };
    scenario(&log, &raw, &SQLITE_ONLY).await;
    // Only `ClaimTarget::One` meets a state that is not text.
    let id = SagaId::new();
    let data = Bytes::from_static(b"{}");
    log.create(NewSaga::new(id, DEF, 1, data, "dead", Duration::ZERO))
        .await
        .expect("create");
    raw.exec(
        "UPDATE {i} SET state = CAST(x'ff' AS TEXT) WHERE id = {id}",
        id,
    )
    .await;
    let batch = log
        .claim(claim("c", ClaimTarget::One(id)))
        .await
        .expect("claim");
    assert_eq!(batch.corrupt.len(), 1, "a non-UTF-8 state");
    assert!(!raw.leased(id).await);
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_claims_around_corrupt_sagas() {
    let Some(log) = common::postgres(config()).await else {
        return;
    };
    let raw = Raw {
        pool: log.pool().clone(),
        prefix: log.table_prefix().to_owned(),
        lit: |id| format!("'{id}'::uuid"),
    };
    scenario(&log, &raw, &[]).await;
    log.drop_tables().await.expect("drop");
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn mysql_claims_around_corrupt_sagas() {
    let Some(log) = common::mysql(config()).await else {
        return;
    };
    let raw = Raw {
        pool: log.pool().clone(),
        prefix: log.table_prefix().to_owned(),
        lit: |id| format!("UNHEX('{}')", id.as_uuid().simple()),
    };
    scenario(&log, &raw, &[]).await;
    log.drop_tables().await.expect("drop");
}
