//! [`BatchWrite`] for [`PostgresSagaLog`]: each run of a batch as one set-based statement.

use async_trait::async_trait;
use saga::LogError;
use sqlx::Row;
use uuid::Uuid;

use super::{PostgresSagaLog, BACKEND};
use crate::batch::{all_failed, one_by_one, BatchWrite, WriteOp, WriteResult};
use crate::error::log_error;
use crate::rows::{self, event_rows, millis, to_i64};
use crate::stats::SqlLogStats;

#[async_trait]
impl BatchWrite for PostgresSagaLog {
    /// Each run of the batch in which no saga appears twice is one statement (one round trip, one
    /// commit): the creates as one multi-row `INSERT ... ON CONFLICT DO NOTHING`, the appends as one
    /// `UPDATE ... FROM UNNEST(...)` with each row's version, fence and state checked, and all their
    /// records as two more multi-row inserts in the same statement. Rows that did not match are
    /// reported individually.
    async fn write_batch(&self, ops: &[WriteOp]) -> Vec<WriteResult> {
        let mut out = Vec::with_capacity(ops.len());
        for run in crate::batch::unique_runs(ops) {
            out.extend(self.write_run(&ops[run]).await);
        }
        out
    }

    fn counters(&self) -> SqlLogStats {
        self.stats()
    }
}

impl PostgresSagaLog {
    /// Writes `ops` (no saga twice) in one statement.
    async fn write_run(&self, ops: &[WriteOp]) -> Vec<WriteResult> {
        let mut c_id = Vec::new();
        let mut c_def = Vec::new();
        let mut c_ver = Vec::new();
        let mut c_owner = Vec::new();
        let mut c_lease = Vec::new();
        let mut c_deadline = Vec::new();
        let mut c_data: Vec<&[u8]> = Vec::new();
        let mut a_id = Vec::new();
        let mut a_expected = Vec::new();
        let mut a_fence = Vec::new();
        let mut a_n = Vec::new();
        let mut a_state = Vec::new();
        let mut a_release = Vec::new();
        let mut a_lease = Vec::new();
        let mut e_id = Vec::new();
        let mut e_seq = Vec::new();
        let mut e_kind = Vec::new();
        let mut e_step = Vec::new();
        let mut e_attempt = Vec::new();
        let mut e_detail = Vec::new();
        let mut e_payload = Vec::new();
        for op in ops {
            match op {
                WriteOp::Create(s) => {
                    c_id.push(*s.id.as_uuid());
                    c_def.push(s.definition.as_str());
                    c_ver.push(i64::from(s.definition_version));
                    c_owner.push(s.owner.as_str());
                    c_lease.push(millis(s.lease_ttl));
                    c_deadline.push(s.deadline_at_ms.map(to_i64));
                    c_data.push(s.data.as_ref());
                }
                WriteOp::Append(a) => {
                    let rows = event_rows(a.expected_version, &a.events);
                    a_id.push(*a.id.as_uuid());
                    a_expected.push(to_i64(a.expected_version));
                    a_fence.push(to_i64(a.lease.fence));
                    a_n.push(i64::try_from(rows.len()).unwrap_or(i64::MAX));
                    a_state.push(a.state.as_str());
                    a_release.push(rows::releases_lease(a.state));
                    a_lease.push(millis(a.lease_ttl));
                    for r in rows {
                        e_id.push(*a.id.as_uuid());
                        e_seq.push(r.seq);
                        e_kind.push(r.kind);
                        e_step.push(r.step);
                        e_attempt.push(r.attempt);
                        e_detail.push(r.detail);
                        e_payload.push(r.payload);
                    }
                }
            }
        }
        let rows = sqlx::query(&self.core.sql.batch)
            .bind(c_id)
            .bind(c_def)
            .bind(c_ver)
            .bind(c_owner)
            .bind(c_lease)
            .bind(c_deadline)
            .bind(c_data)
            .bind(a_id)
            .bind(a_expected)
            .bind(a_fence)
            .bind(a_n)
            .bind(a_state)
            .bind(a_release)
            .bind(a_lease)
            .bind(e_id)
            .bind(e_seq)
            .bind(e_kind)
            .bind(e_step)
            .bind(e_attempt)
            .bind(e_detail)
            .bind(e_payload)
            .fetch_all(&self.core.pool)
            .await;
        let rows = match rows {
            Ok(rows) => rows,
            // The server refused the statement, so nothing of it was written: one by one, each op
            // gets its own result.
            Err(sqlx::Error::Database(_)) => return one_by_one(self, ops).await,
            // Whether it committed is unknown (e.g. the connection dropped): a transient error each.
            Err(e) => return all_failed(ops.len(), BACKEND, &e),
        };
        self.core.counters.commit();
        let mut written = std::collections::HashMap::with_capacity(rows.len());
        for row in &rows {
            match (row.try_get::<Uuid, _>(0), row.try_get::<i64, _>(1)) {
                (Ok(id), Ok(version)) => {
                    written.insert(id, version);
                }
                (Err(e), _) | (_, Err(e)) => {
                    // Committed, but the answer is unreadable: report it, never a false conflict.
                    return all_failed(ops.len(), BACKEND, &e);
                }
            }
        }
        let mut results: Vec<WriteResult> = ops
            .iter()
            .map(|op| match (op, written.get(op.saga_id().as_uuid())) {
                (WriteOp::Create(_), Some(_)) => Ok(1),
                (WriteOp::Create(s), None) => Err(rows::already_exists(s.id)),
                (WriteOp::Append(a), Some(v)) => {
                    u64::try_from(*v).map_err(|_| crate::error::corrupt(a.id, "bad version"))
                }
                // Diagnosed below.
                (WriteOp::Append(a), None) => Err(LogError::NotFound { saga_id: a.id }),
            })
            .collect();
        let missed: Vec<Uuid> = ops
            .iter()
            .filter_map(|op| match op {
                WriteOp::Append(a) if !written.contains_key(a.id.as_uuid()) => {
                    Some(*a.id.as_uuid())
                }
                _ => None,
            })
            .collect();
        if !missed.is_empty() {
            match self.current_of(&missed).await {
                Ok(found) => {
                    for (op, r) in ops.iter().zip(results.iter_mut()) {
                        if let WriteOp::Append(a) = op {
                            if !written.contains_key(a.id.as_uuid()) {
                                *r = Err(rows::diagnose(
                                    &a.as_append(),
                                    found.get(a.id.as_uuid()).cloned(),
                                ));
                            }
                        }
                    }
                }
                Err(e) => {
                    for (op, r) in ops.iter().zip(results.iter_mut()) {
                        if let WriteOp::Append(a) = op {
                            if !written.contains_key(a.id.as_uuid()) {
                                *r = Err(LogError::Backend {
                                    backend: BACKEND,
                                    message: e.to_string(),
                                    transient: e.is_transient(),
                                    source: None,
                                });
                            }
                        }
                    }
                }
            }
        }
        crate::batch::count(&self.core.counters, ops, &results);
        results
    }

    /// `(version, fence, state)` of the given sagas, for diagnosing appends that matched no row.
    async fn current_of(
        &self,
        ids: &[Uuid],
    ) -> Result<std::collections::HashMap<Uuid, (i64, i64, String)>, LogError> {
        let rows = sqlx::query(&self.core.sql.current_of)
            .bind(ids)
            .fetch_all(&self.core.pool)
            .await
            .map_err(|e| log_error(BACKEND, e))?;
        rows.iter()
            .map(|r| -> Result<_, sqlx::Error> {
                Ok((
                    r.try_get::<Uuid, _>("id")?,
                    (
                        r.try_get("version")?,
                        r.try_get("fence")?,
                        r.try_get("state")?,
                    ),
                ))
            })
            .collect::<Result<_, _>>()
            .map_err(|e| log_error(BACKEND, e))
    }
}
