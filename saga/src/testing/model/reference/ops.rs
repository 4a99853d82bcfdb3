//! What each op does in the model, and what the executor's call should answer.

use super::{Answer, CancelFate, Driver, Model, Phase, Wrote, COMMIT_POINT, TTL_MS};
use crate::error::CancelRefusal;
use crate::id::Direction;
use crate::log::{ConflictKind, EventKind as E, SagaState};
use crate::testing::CrashPoint;

impl Model {
    fn local(&self, slot: usize, inc: usize) -> Option<usize> {
        self.sagas[slot].drivers.iter().position(|d| d.inc == inc)
    }

    /// `start_with_id` on the current executor.
    pub(crate) fn start(&mut self, slot: usize) -> Answer {
        let p = self.primary;
        if !self.incs[p].alive {
            return Answer::Dead;
        }
        if self.local(slot, p).is_some() {
            return Answer::Conflict(ConflictKind::AlreadyExists);
        }
        let fresh = !self.sagas[slot].created;
        let lineage = self.incs[p].lineage;
        if let Some(point) = self.incs[p].armed.take() {
            self.incs[p].alive = false;
            if point == CrashPoint::AfterWrite && fresh {
                self.create(slot, lineage);
            }
            return Answer::Dead;
        }
        if !fresh {
            return Answer::Conflict(ConflictKind::AlreadyExists);
        }
        self.create(slot, lineage);
        let task = self.task(p, None);
        let driver = Driver {
            inc: p,
            task: Some(task),
            fence: 1,
            phase: self.sagas[slot].phase,
            in_doubt: false,
            cancel: false,
        };
        self.run(slot, driver);
        Answer::Ok
    }

    fn create(&mut self, slot: usize, lineage: usize) {
        let now = self.now;
        let s = &mut self.sagas[slot];
        s.created = true;
        s.events.push(E::Started);
        s.owner = Some(lineage);
        s.fence = 1;
        s.lease_until = Some(now + TTL_MS);
    }

    /// `recover()` on executor `inc`; returns its task.
    pub(crate) fn recover(&mut self, inc: usize) -> usize {
        if !self.incs[inc].alive {
            return self.task(inc, Some(Answer::Dead));
        }
        let task = self.task(inc, None);
        let lineage = self.incs[inc].lineage;
        for slot in self.by_id.clone() {
            let s = &self.sagas[slot];
            let recoverable = s.created
                && matches!(s.phase, Phase::Forward { .. } | Phase::Compensating { .. })
                && self.lease_free(slot, lineage);
            if !recoverable {
                continue;
            }
            let fence = self.take(slot, inc);
            if self.local(slot, inc).is_some() {
                self.tasks[task].already_driven += 1;
                continue;
            }
            let phase = self.sagas[slot].phase;
            let driver = Driver {
                inc,
                task: Some(task),
                fence,
                phase,
                in_doubt: matches!(phase, Phase::Forward { .. }),
                cancel: false,
            };
            self.run(slot, driver);
        }
        task
    }

    /// `cancel` on the current executor.
    pub(crate) fn cancel(&mut self, slot: usize) -> Answer {
        let p = self.primary;
        if let Some(at) = self.local(slot, p) {
            let d = &mut self.sagas[slot].drivers[at];
            return match d.phase {
                Phase::Forward { step, .. } if step < COMMIT_POINT => {
                    d.cancel = true;
                    self.accepted(slot);
                    Answer::Ok
                }
                Phase::Forward { .. } => Answer::Refused(CancelRefusal::PastPivot),
                _ => {
                    self.accepted(slot);
                    Answer::Ok
                }
            };
        }
        let fence = match self.claim_one(slot, p, false) {
            Ok(fence) => fence,
            Err(answer) => return answer,
        };
        let phase = self.sagas[slot].phase;
        let (answer, cancel) = match phase {
            Phase::Forward { step, .. } if step < COMMIT_POINT => (Answer::Ok, true),
            Phase::Forward { .. } => (Answer::Refused(CancelRefusal::PastPivot), false),
            _ => (Answer::Ok, false),
        };
        if answer == Answer::Ok {
            self.accepted(slot);
        }
        let driver = Driver {
            inc: p,
            task: None,
            fence,
            phase,
            in_doubt: matches!(phase, Phase::Forward { .. }),
            cancel,
        };
        self.run(slot, driver);
        answer
    }

    fn accepted(&mut self, slot: usize) {
        let s = &mut self.sagas[slot];
        s.cancel = match (s.cancel, s.phase) {
            (CancelFate::Recorded, _) | (_, Phase::Compensating { .. }) => CancelFate::Recorded,
            _ => CancelFate::Pending,
        };
    }

    /// The checks `cancel` (`stuck: false`) or an operator action (`stuck: true`) makes of a saga this
    /// executor does not drive, then its claim: the fence, or the answer.
    fn claim_one(&mut self, slot: usize, inc: usize, stuck: bool) -> Result<u64, Answer> {
        if !self.incs[inc].alive {
            return Err(Answer::Dead);
        }
        let s = &self.sagas[slot];
        if !s.created {
            return Err(Answer::Unknown);
        }
        match (s.phase, stuck) {
            (Phase::Done(state), false) => {
                return Err(Answer::Refused(CancelRefusal::Finished(state)))
            }
            (Phase::Stuck { .. }, false) => return Err(Answer::Refused(CancelRefusal::Stuck)),
            (Phase::Stuck { .. }, true) | (_, false) => {}
            (phase, true) => return Err(Answer::NotStuck(phase.state())),
        }
        if !self.lease_free(slot, self.incs[inc].lineage) {
            return Err(Answer::OwnedElsewhere);
        }
        Ok(self.take(slot, inc))
    }

    /// The checks of an operator action on the current executor; the fence and where it was stuck.
    fn operator(&mut self, slot: usize) -> Result<(u64, usize, Direction), Answer> {
        let p = self.primary;
        if let Some(at) = self.local(slot, p) {
            return Err(Answer::NotStuck(self.sagas[slot].drivers[at].phase.state()));
        }
        let fence = self.claim_one(slot, p, true)?;
        match self.sagas[slot].phase {
            Phase::Stuck { step, direction } => Ok((fence, step, direction)),
            _ => unreachable!("model: claim_one checked the saga is stuck"),
        }
    }

    /// Operator `retry`; returns its task.
    pub(crate) fn retry(&mut self, slot: usize) -> usize {
        let p = self.primary;
        let (fence, step, direction) = match self.operator(slot) {
            Ok(found) => found,
            Err(answer) => return self.task(p, Some(answer)),
        };
        let task = self.task(p, None);
        // The operator fixed what made the step refuse: its participant answers afresh.
        self.forget_refusal(slot, step, direction == Direction::Compensate);
        let (state_event, next) = match direction {
            Direction::Forward => (E::OperatorRetried, Phase::Forward { step, attempt: 1 }),
            Direction::Compensate => (
                E::OperatorRetried,
                Phase::Compensating {
                    remaining: step + 1,
                    attempt: 1,
                },
            ),
        };
        match self.write(p, slot, fence, &[state_event], next) {
            Wrote::Ok => {}
            Wrote::Conflict => unreachable!("model: the claim was just made"),
            Wrote::Dead => {
                self.tasks[task].early = Some(Answer::Dead);
                return task;
            }
        }
        let driver = Driver {
            inc: p,
            task: Some(task),
            fence,
            phase: next,
            in_doubt: direction == Direction::Forward,
            cancel: false,
        };
        self.run(slot, driver);
        task
    }

    /// Operator `resolve`.
    pub(crate) fn resolve(&mut self, slot: usize) -> Answer {
        let p = self.primary;
        let fence = match self.operator(slot) {
            Ok((fence, ..)) => fence,
            Err(answer) => return answer,
        };
        let done = Phase::Done(SagaState::Resolved);
        match self.write(p, slot, fence, &[E::OperatorResolved], done) {
            Wrote::Ok => Answer::Ok,
            Wrote::Conflict => unreachable!("model: the claim was just made"),
            Wrote::Dead => Answer::Dead,
        }
    }

    /// Arms the current executor's crash at its next write.
    pub(crate) fn crash(&mut self, point: CrashPoint) {
        let p = self.primary;
        if self.incs[p].alive {
            self.incs[p].armed = Some(point);
        }
    }
}
