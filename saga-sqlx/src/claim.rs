//! What the claims of the three logs share: the [`ClaimTarget`]s this crate implements ([`target`]),
//! and the sorting of the candidates a claim took into claimed and corrupt ones ([`Outcome`]).
//!
//! Every log decodes each candidate on its own: a saga whose rows do not decode is reported in
//! [`ClaimBatch::corrupt`] and its lease is released again (owner and lease expiry cleared; the fence
//! bump stays, which no one can tell from a claim), so one bad saga never fails the claim of the others
//! and no lease is left that no driver holds. MySQL and SQLite release inside the claim's transaction;
//! PostgreSQL claims in one autocommitted statement (instances and records in one round trip) and
//! releases with a second statement only when the batch had a corrupt saga.

use saga::log::{ClaimBatch, ClaimTarget, Claimed, CorruptSaga, SagaSnapshot};
use saga::{LogError, SagaId};

use crate::stats::Counters;

/// A [`ClaimTarget`] this crate implements, with its limit ready to bind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// [`ClaimTarget::Recoverable`]: up to `limit` sagas with an id greater than `after`.
    Page {
        /// The limit, saturated to what SQL binds.
        limit: i64,
        /// Keyset cursor.
        after: Option<SagaId>,
    },
    /// [`ClaimTarget::One`].
    One(SagaId),
}

/// Maps a [`ClaimTarget`] to the [`Target`] the logs implement, or to [`LogError::Unsupported`].
///
/// `ClaimTarget` is `#[non_exhaustive]`: a target the core adds later reaches the `_` arm here, and must
/// fail loudly rather than claim nothing. That arm cannot be reached by a test (no such variant can be
/// built), so it lives in this one function, which the PostgreSQL, MySQL and SQLite logs all call.
pub(crate) fn target(backend: &'static str, target: ClaimTarget) -> Result<Target, LogError> {
    match target {
        ClaimTarget::Recoverable { limit, after } => Ok(Target::Page {
            limit: i64::try_from(limit).unwrap_or(i64::MAX),
            after,
        }),
        ClaimTarget::One(id) => Ok(Target::One(id)),
        other => Err(LogError::Unsupported {
            backend,
            operation: format!("claim target {other:?}"),
        }),
    }
}

/// The candidates of one claim, sorted by how their rows decoded.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    claimed: Vec<Claimed>,
    corrupt: Vec<CorruptSaga>,
}

impl Outcome {
    /// Files candidate `id` by how its rows decoded: a snapshot is claimed; [`LogError::Corrupt`] is
    /// reported as corrupt, and `true` returned (the caller releases its lease); no rows (the saga
    /// vanished) is skipped. Any other error fails the claim.
    pub(crate) fn add(
        &mut self,
        id: SagaId,
        decoded: Result<Option<SagaSnapshot>, LogError>,
    ) -> Result<bool, LogError> {
        match decoded {
            Ok(Some(snapshot)) => {
                self.claimed.push(crate::rows::claimed(snapshot));
                Ok(false)
            }
            Ok(None) => Ok(false),
            Err(LogError::Corrupt { message, .. }) => {
                tracing::warn!(saga_id = %id, reason = %message, "saga-sqlx: corrupt saga not claimed");
                self.corrupt.push(CorruptSaga::new(id, message));
                Ok(true)
            }
            Err(e) => Err(e),
        }
    }

    /// The ids of the corrupt candidates so far.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn corrupt_ids(&self) -> impl Iterator<Item = SagaId> + '_ {
        self.corrupt.iter().map(|c| c.id)
    }

    /// The batch, claimed sagas in ascending id order; counts them in `counters`.
    pub(crate) fn finish(mut self, counters: &Counters) -> ClaimBatch {
        self.claimed.sort_by_key(|c| c.snapshot.instance.id);
        counters.claimed(self.claimed.len());
        ClaimBatch::new(self.claimed, self.corrupt)
    }
}

/// The statements of a claim that takes its candidates one by one inside its transaction (MySQL,
/// SQLite): `take` (owner, owner, lease ms, id), `load` (id; the rows of `load`), `release` (id, owner).
#[cfg_attr(not(any(feature = "mysql", feature = "sqlite")), allow(dead_code))]
pub(crate) struct TakeSql {
    pub(crate) take: String,
    pub(crate) load: String,
    pub(crate) release: String,
}

/// Takes each candidate `(id, stored id)` for `owner` in the claim's transaction `tx`, reads it back
/// and files it, releases a corrupt one again, then commits (counted in `counters`).
#[cfg_attr(not(any(feature = "mysql", feature = "sqlite")), allow(dead_code))]
pub(crate) async fn take_each<DB, I>(
    mut tx: sqlx::Transaction<'_, DB>,
    backend: &'static str,
    candidates: impl IntoIterator<Item = (SagaId, I)>,
    sql: &TakeSql,
    owner: &str,
    lease_ms: i64,
    counters: &Counters,
) -> Result<ClaimBatch, LogError>
where
    DB: sqlx::Database,
    DB::Row: crate::rows::Columns,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    I: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB> + Send + Sync,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let db = |e| crate::error::log_error(backend, e);
    let mut outcome = Outcome::default();
    for (id, stored) in candidates {
        sqlx::query(&sql.take)
            .bind(owner)
            .bind(owner)
            .bind(lease_ms)
            .bind(&stored)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let rows = sqlx::query(&sql.load)
            .bind(&stored)
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
        if outcome.add(id, crate::rows::loaded(backend, id, &rows))? {
            sqlx::query(&sql.release)
                .bind(&stored)
                .bind(owner)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
    }
    tx.commit().await.map_err(db)?;
    counters.commit();
    Ok(outcome.finish(counters))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_targets_map() {
        let id = SagaId::new();
        assert_eq!(
            target("sqlite", ClaimTarget::One(id)).ok(),
            Some(Target::One(id))
        );
        assert_eq!(
            target(
                "sqlite",
                ClaimTarget::Recoverable {
                    limit: usize::MAX,
                    after: Some(id)
                }
            )
            .ok(),
            Some(Target::Page {
                limit: i64::MAX,
                after: Some(id)
            })
        );
    }
}
