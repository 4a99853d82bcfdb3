//! The end of a case: every saga brought to a terminal state, then the end-of-case checks.

use std::collections::HashMap;

use super::case::Case;
use super::check;
use super::reference::{CancelFate, Phase};
use super::{Op, Reply};
use crate::id::IdempotencyKey;
use crate::log::SagaState;
use crate::testing::CallOutcome;

/// Drain rounds allowed to bring every saga to a terminal state after the ops.
const DRAIN_ROUNDS: usize = 200;

impl Case {
    /// Brings every saga started to a terminal state.
    pub(super) async fn drain(&mut self) {
        for _ in 0..DRAIN_ROUNDS {
            let done = self
                .model
                .sagas
                .iter()
                .all(|s| !s.created || matches!(s.phase, Phase::Done(_)));
            let pending = self.model.pending();
            if done && pending.is_empty() {
                return;
            }
            let op = if let Some(call) = pending.first() {
                let slot = u8::try_from(call.slot).unwrap_or(0);
                Op::Reply {
                    slot,
                    pick: 0,
                    reply: Reply::Ok,
                }
            } else if !self.model.incs[self.model.primary].alive {
                Op::Restart
            } else if let Some(slot) = self.retriable() {
                Op::Retry { slot }
            } else {
                Op::ExpireLease
            };
            if !self.step(op, "drain_").await {
                return;
            }
        }
        self.report.failures.push(format!(
            "sagas not terminal after {DRAIN_ROUNDS} drain rounds"
        ));
    }

    /// A stuck saga the current executor may retry now.
    fn retriable(&self) -> Option<u8> {
        let lineage = self.model.incs[self.model.primary].lineage;
        let now = self.model.now;
        self.model
            .sagas
            .iter()
            .position(|s| {
                matches!(s.phase, Phase::Stuck { .. })
                    && (s.owner == Some(lineage) || s.lease_until.is_none_or(|u| u <= now))
            })
            .and_then(|slot| u8::try_from(slot).ok())
    }

    /// The end-of-case checks, and the counts.
    pub(super) fn finish(&mut self) {
        let finals: Vec<Option<SagaState>> = self
            .model
            .sagas
            .iter()
            .map(|s| s.created.then(|| s.phase.state()))
            .collect();
        let drained = self.report.failures.is_empty();
        for (slot, s) in self.model.sagas.iter().enumerate() {
            if let Some(state) = finals[slot] {
                *self.report.ended.entry(state.to_string()).or_default() += 1;
            }
            match s.cancel {
                CancelFate::Lost => self.report.cancels_lost += 1,
                CancelFate::Recorded | CancelFate::Pending if drained => {
                    let compensated = matches!(
                        finals[slot],
                        Some(SagaState::Compensated | SagaState::Resolved)
                    );
                    if !compensated {
                        self.report.failures.push(format!(
                            "saga {slot}: cancel accepted, but it ended {:?}",
                            finals[slot]
                        ));
                    }
                }
                _ => {}
            }
        }
        if drained {
            let (failures, late) = check::effects(&self.world, &finals);
            self.report.failures.extend(failures);
            self.report.late_effects += late;
        }
        let calls = self.world.journal.calls();
        self.report.step_calls += calls.len() as u64;
        let mut successes: HashMap<IdempotencyKey, u64> = HashMap::new();
        for call in calls.iter().filter(|c| c.outcome == CallOutcome::Succeeded) {
            *successes.entry(call.key).or_default() += 1;
        }
        self.report.re_executions += successes.values().map(|n| n - 1).sum::<u64>();
    }
}
