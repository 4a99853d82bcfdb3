//! The claims of [`MySqlSagaLog`]. A page of recoverable sagas: the candidates locked by
//! `SELECT … FOR UPDATE SKIP LOCKED`, then taken with **one** `UPDATE … WHERE id IN (…)` and read back
//! with **one** `SELECT … WHERE i.id IN (…)`, in the claim's transaction. Taking them one by one cost two
//! round trips per saga, which made recovering 10,000 sagas slower than half the steady rate
//! (`docs/benchmarks.md`). A candidate whose rows do not decode is released again, alone.

use saga::log::{ClaimBatch, ClaimRequest};
use saga::{LogError, SagaId};
use sqlx::MySql;

use super::row::bin;
use super::sql::PageSql;
use super::{MySqlSagaLog, BACKEND};
use crate::claim::{self, Outcome, Target};
use crate::error::log_error;
use crate::rows::{self, millis};
use crate::stats::Counters;

/// A claim on MySQL: the candidates locked with `FOR UPDATE SKIP LOCKED`, then a page taken with
/// [`take_page`], one saga by the one-by-one take.
pub(super) async fn claim(log: &MySqlSagaLog, claim: ClaimRequest) -> Result<ClaimBatch, LogError> {
    let db = |e| log_error(BACKEND, e);
    let target = claim::target(BACKEND, claim.target)?;
    let mut tx = log.core.pool.begin().await.map_err(db)?;
    let query = match target {
        Target::Page { limit, after } => sqlx::query_scalar(&log.core.sql.claimable)
            .bind(&claim.definition)
            .bind(i64::from(claim.definition_version))
            .bind(after.map(bin))
            .bind(after.map(bin))
            .bind(&claim.owner)
            .bind(limit),
        Target::One(id) => sqlx::query_scalar(&log.core.sql.claimable_one)
            .bind(bin(id))
            .bind(&claim.definition)
            .bind(i64::from(claim.definition_version))
            .bind(&claim.owner),
    };
    let ids: Vec<Vec<u8>> = query.fetch_all(&mut *tx).await.map_err(db)?;
    // A BINARY(16) column always holds 16 bytes; anything else is left alone, untaken.
    let candidates: Vec<(SagaId, Vec<u8>)> = ids
        .into_iter()
        .filter_map(|raw| Some((SagaId::from_uuid(uuid::Uuid::from_slice(&raw).ok()?), raw)))
        .collect();
    let lease_ms = millis(claim.lease_ttl);
    let counters = &log.core.counters;
    match target {
        Target::Page { .. } => {
            take_page(
                tx,
                candidates,
                &log.core.sql.page,
                &log.core.sql.taking.release,
                &claim.owner,
                lease_ms,
                counters,
            )
            .await
        }
        Target::One(_) => {
            claim::take_each::<sqlx::MySql, _>(
                tx,
                BACKEND,
                candidates,
                &log.core.sql.taking,
                &claim.owner,
                lease_ms,
                counters,
            )
            .await
        }
    }
}

/// Candidates per statement.
const CHUNK: usize = 1_000;

/// `( ?, ?, … )` with `n` placeholders (`n` ≥ 1).
fn placeholders(n: usize) -> String {
    let mut s = String::with_capacity(2 + 3 * n);
    s.push('(');
    for k in 0..n {
        if k > 0 {
            s.push_str(", ");
        }
        s.push('?');
    }
    s.push(')');
    s
}

/// Takes `candidates` (`(id, BINARY(16) value)`, locked by `tx`) for `owner`, reads them back, files
/// them, releases corrupt ones with `release` (id, owner), and commits.
#[allow(clippy::too_many_arguments)]
pub(super) async fn take_page(
    mut tx: sqlx::Transaction<'_, MySql>,
    candidates: Vec<(SagaId, Vec<u8>)>,
    sql: &PageSql,
    release: &str,
    owner: &str,
    lease_ms: i64,
    counters: &Counters,
) -> Result<ClaimBatch, LogError> {
    let db = |e| log_error(BACKEND, e);
    let mut outcome = Outcome::default();
    // MySQL binds at most 65,535 parameters per statement; a page larger than a chunk (a user may
    // configure any recovery batch) is taken a chunk at a time, still in the one transaction.
    for chunk in candidates.chunks(CHUNK) {
        let list = placeholders(chunk.len());
        let take = format!("{}{list}", sql.take);
        let mut query = sqlx::query(&take).bind(owner).bind(owner).bind(lease_ms);
        for (_, stored) in chunk {
            query = query.bind(stored);
        }
        query.execute(&mut *tx).await.map_err(db)?;
        let load = format!("{}{list}{}", sql.load, sql.load_order);
        let mut query = sqlx::query(&load);
        for (_, stored) in chunk {
            query = query.bind(stored);
        }
        let rows = query.fetch_all(&mut *tx).await.map_err(db)?;
        for (id, run) in rows::by_saga(BACKEND, &rows)? {
            if outcome.add(id, rows::loaded(BACKEND, id, run))? {
                sqlx::query(release)
                    .bind(id.as_uuid().as_bytes().to_vec())
                    .bind(owner)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
            }
        }
    }
    tx.commit().await.map_err(db)?;
    counters.commit();
    Ok(outcome.finish(counters))
}

#[cfg(test)]
mod tests {
    use super::placeholders;

    #[test]
    fn placeholders_list_one_per_candidate() {
        assert_eq!(placeholders(1), "(?)");
        assert_eq!(placeholders(3), "(?, ?, ?)");
    }
}
