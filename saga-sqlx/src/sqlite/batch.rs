//! [`BatchWrite`] for [`SqliteSagaLog`]: a whole batch in one immediate transaction.

use async_trait::async_trait;

use super::{SqliteSagaLog, BACKEND, BEGIN};
use crate::batch::{all_failed, one_by_one, poisons, BatchWrite, WriteOp, WriteResult};
use crate::stats::SqlLogStats;

#[async_trait]
impl BatchWrite for SqliteSagaLog {
    async fn write_batch(&self, ops: &[WriteOp]) -> Vec<WriteResult> {
        let mut tx = match self.core.pool.begin_with(BEGIN).await {
            Ok(tx) => tx,
            Err(e) => return all_failed(ops.len(), BACKEND, &e),
        };
        let mut results = Vec::with_capacity(ops.len());
        for op in ops {
            let r = match op {
                WriteOp::Create(s) => self.create_in(&mut tx, s).await,
                WriteOp::Append(a) => self.append_in(&mut tx, &a.as_append()).await,
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
