//! [`BatchWrite`] for [`MySqlSagaLog`]: a whole batch in one transaction and (up to 1 MiB of SQL) one
//! multi-statement request.

use async_trait::async_trait;

use super::{run_body, MySqlSagaLog, BACKEND};
use crate::batch::{all_failed, one_by_one, poisons, BatchWrite, WriteOp, WriteResult};
use crate::stats::SqlLogStats;

/// Above this many bytes of statements a batch goes to the server in more than one request (far
/// below `max_allowed_packet`).
const BODY_LIMIT: usize = 1 << 20;

#[async_trait]
impl BatchWrite for MySqlSagaLog {
    /// The whole batch is one transaction of three round trips: `BEGIN`, every write's statements in
    /// one multi-statement request (split only beyond 1 MiB of SQL), `COMMIT`. Each write's
    /// `UPDATE ... WHERE id = ? AND version = ? AND fence = ?` is checked on its own, so a conflicting
    /// write gets its own error and the others commit.
    async fn write_batch(&self, ops: &[WriteOp]) -> Vec<WriteResult> {
        let mut tx = match self.core.pool.begin().await {
            Ok(tx) => tx,
            Err(e) => return all_failed(ops.len(), BACKEND, &e),
        };
        let mut body = String::with_capacity(ops.len() * 1024);
        let mut spans = Vec::with_capacity(ops.len());
        let mut counts = Vec::with_capacity(ops.len() * 2);
        for (k, op) in ops.iter().enumerate() {
            if !body.is_empty() {
                body.push(';');
            }
            spans.push(match op {
                WriteOp::Create(s) => self.core.sql.create_body(&mut body, s),
                WriteOp::Append(a) => self.core.sql.append_body(&mut body, &a.as_append()),
            });
            if body.len() >= BODY_LIMIT || k + 1 == ops.len() {
                match run_body(&mut tx, &body).await {
                    Ok(c) => counts.extend(c),
                    // Nothing is committed: each write on its own gets its own result.
                    Err(_) => {
                        drop(tx.rollback().await);
                        return one_by_one(self, ops).await;
                    }
                }
                body.clear();
            }
        }
        if counts.len() != spans.iter().sum::<usize>() {
            drop(tx.rollback().await);
            return one_by_one(self, ops).await;
        }
        let mut results = Vec::with_capacity(ops.len());
        let mut at = 0;
        for (op, span) in ops.iter().zip(spans) {
            let c = &counts[at..at + span];
            at += span;
            let r = match op {
                WriteOp::Create(_) => Ok(1),
                WriteOp::Append(a) => self.append_result(&mut tx, &a.as_append(), c).await,
            };
            if poisons(&r) {
                drop(tx.rollback().await);
                return one_by_one(self, ops).await;
            }
            results.push(r);
        }
        crate::batch::commit(tx, BACKEND, &self.core.counters, ops, results).await
    }

    fn counters(&self) -> SqlLogStats {
        self.stats()
    }
}
