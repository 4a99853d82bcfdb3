//! The log's side of the model: leases, fences, and what a write attempt does.

use super::{CancelFate, Model, Phase, Wrote, TTL_MS};
use crate::log::{EventKind, SagaState};
use crate::testing::CrashPoint;

impl Model {
    pub(super) fn lease_free(&self, slot: usize, lineage: usize) -> bool {
        let s = &self.sagas[slot];
        s.owner == Some(lineage) || s.lease_until.is_none_or(|until| until <= self.now)
    }

    /// A claim by `inc`'s owner: takes the lease (a new fence if the owner changes).
    pub(super) fn take(&mut self, slot: usize, inc: usize) -> u64 {
        let lineage = self.incs[inc].lineage;
        let now = self.now;
        let s = &mut self.sagas[slot];
        if s.owner != Some(lineage) {
            s.fence += 1;
            s.owner = Some(lineage);
        }
        s.lease_until = Some(now + TTL_MS);
        s.fence
    }

    /// A write attempt by `inc` under `fence`: the armed crash fires at it; a stale fence conflicts.
    pub(crate) fn write(
        &mut self,
        inc: usize,
        slot: usize,
        fence: u64,
        events: &[EventKind],
        next: Phase,
    ) -> Wrote {
        let i = &mut self.incs[inc];
        if !i.alive {
            return Wrote::Dead;
        }
        let lands = {
            let s = &self.sagas[slot];
            s.created && s.fence == fence && !matches!(s.phase, Phase::Done(_))
        };
        if let Some(point) = i.armed.take() {
            i.alive = false;
            if point == CrashPoint::AfterWrite && lands {
                self.apply(slot, events, next);
            }
            return Wrote::Dead;
        }
        if !lands {
            return Wrote::Conflict;
        }
        self.apply(slot, events, next);
        Wrote::Ok
    }

    pub(super) fn apply(&mut self, slot: usize, events: &[EventKind], next: Phase) {
        let now = self.now;
        let s = &mut self.sagas[slot];
        s.events.extend_from_slice(events);
        s.phase = next;
        if matches!(next, Phase::Done(_) | Phase::Stuck { .. }) {
            s.owner = None;
            s.lease_until = None;
        } else {
            s.lease_until = Some(now + TTL_MS);
        }
        let compensates = matches!(
            next,
            Phase::Compensating { .. } | Phase::Done(SagaState::Compensated)
        );
        if compensates && s.cancel == CancelFate::Pending {
            s.cancel = CancelFate::Recorded;
        }
    }
}
