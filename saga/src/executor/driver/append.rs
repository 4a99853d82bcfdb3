//! Writing a saga's transitions under its lease.

use tracing::warn;

use super::Driver;
use crate::log::{Append, ConflictKind, LogError, LogEvent, SagaState};
use crate::step::SagaData;
use crate::Error;

impl<D: SagaData> Driver<D> {
    /// Appends under the lease, retrying transient log errors. A retry that finds its own write already
    /// landed (the first try committed but its answer was lost) counts as success.
    pub(super) async fn append(
        &mut self,
        state: SagaState,
        events: &[LogEvent],
    ) -> Result<(), Error> {
        let policy = self.inner.config.log_retry;
        let lease_ttl = self.inner.config.lease_ttl;
        let mut attempt = 1;
        let mut retried = false;
        loop {
            let append = Append::new(self.id, self.version, self.lease, state, events, lease_ttl);
            match self.inner.log.append(append).await {
                Ok(version) => {
                    self.version = version;
                    return Ok(());
                }
                Err(e) if e.is_transient() && policy.allows_attempt(attempt + 1) => {
                    warn!(error = %e, attempt, "saga log append failed, retrying");
                    tokio::time::sleep(policy.delay_after(attempt, None)).await;
                    attempt += 1;
                    retried = true;
                }
                Err(LogError::Conflict {
                    kind: ConflictKind::VersionMismatch,
                    ..
                }) if retried => {
                    if self.landed(events).await? {
                        return Ok(());
                    }
                    return Err(LogError::conflict(
                        self.id,
                        ConflictKind::VersionMismatch,
                        self.version,
                        None,
                    )
                    .into());
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Whether the last records in the log are `events`, written under this driver's lease.
    async fn landed(&mut self, events: &[LogEvent]) -> Result<bool, Error> {
        let Some(snapshot) = self.inner.log.load(self.id).await? else {
            return Ok(false);
        };
        let n = events.len() as u64;
        let ours = snapshot.instance.fence == self.lease.fence
            && snapshot.instance.version == self.version + n
            && snapshot
                .records
                .iter()
                .rev()
                .take(events.len())
                .map(|r| &r.event)
                .eq(events.iter().rev());
        if ours {
            self.version = snapshot.instance.version;
        }
        Ok(ours)
    }
}
