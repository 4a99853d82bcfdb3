//! How the in-memory log takes sagas over.

use tokio::time::Instant;

use super::{lease_deadline, Entry, InMemoryLog};
use crate::id::SagaId;
use crate::log::{ClaimBatch, ClaimRequest, ClaimTarget, Claimed, Lease, SagaSnapshot, SagaState};

impl InMemoryLog {
    /// Claims what `claim` asks for, under the shard locks.
    pub(super) fn claim_now(&self, claim: &ClaimRequest) -> ClaimBatch {
        let now = Instant::now();
        let matches_def = |e: &Entry| {
            e.instance.definition == claim.definition
                && e.instance.definition_version == claim.definition_version
        };
        let take = |e: &mut Entry| {
            if e.instance.owner.as_deref() != Some(&*claim.owner) {
                e.instance.fence += 1;
                e.instance.owner = Some(claim.owner.clone());
            }
            e.lease_until = Some(lease_deadline(now, claim.lease_ttl));
            Claimed {
                snapshot: SagaSnapshot {
                    instance: e.instance.clone(),
                    records: e.records.clone(),
                },
                lease: Lease {
                    fence: e.instance.fence,
                },
            }
        };
        let mut out = Vec::new();
        match claim.target {
            ClaimTarget::One(id) => {
                let mut shard = self.map.lock(&id);
                if let Some(e) = shard.get_mut(&id) {
                    if matches_def(e)
                        && !e.instance.state.is_terminal()
                        && e.lease_free_for(&claim.owner, now)
                    {
                        out.push(take(e));
                    }
                }
            }
            ClaimTarget::Recoverable { limit, after } => {
                // Cheapest tests first: this runs for every saga the log holds.
                let claimable = |e: &Entry| {
                    matches!(
                        e.instance.state,
                        SagaState::Running | SagaState::Compensating
                    ) && after.is_none_or(|a| e.instance.id > a)
                        && e.lease_free_for(&claim.owner, now)
                        && matches_def(e)
                };
                // The `limit` smallest candidate ids (one linear scan, no full sort), then claimed one
                // by one under their shard lock, re-checked since another claimer may have taken one in
                // between; if every candidate was taken, page on past them. A claim scans every saga
                // the log holds: fine for a test double, which is what this log is for recovery.
                let mut floor = after;
                loop {
                    let mut candidates: Vec<SagaId> = Vec::new();
                    for shard in self.map.shards() {
                        candidates.extend(
                            shard
                                .values()
                                .filter(|e| floor.is_none_or(|f| e.instance.id > f) && claimable(e))
                                .map(|e| e.instance.id),
                        );
                    }
                    if candidates.len() > limit {
                        candidates.select_nth_unstable(limit);
                        candidates.truncate(limit);
                    }
                    candidates.sort_unstable();
                    let Some(&last) = candidates.last() else {
                        break;
                    };
                    for id in candidates {
                        let mut shard = self.map.lock(&id);
                        if let Some(e) = shard.get_mut(&id) {
                            if claimable(e) {
                                out.push(take(e));
                            }
                        }
                    }
                    if !out.is_empty() {
                        break;
                    }
                    floor = Some(last);
                }
            }
        }
        // The in-memory log stores typed events: nothing in it can fail to decode.
        ClaimBatch::from(out)
    }
}
