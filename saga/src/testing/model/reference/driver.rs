//! The model of a saga driver: where it waits, what a reply makes it write, and how it ends.

use super::{
    CallAt, CancelFate, Driver, DriverEnd, Model, Phase, Wrote, ATTEMPTS, COMMIT_POINT, STEPS,
};
use crate::id::Direction;
use crate::log::{EventKind as E, SagaState};
use crate::testing::model::Reply;

impl Model {
    /// A new driver `d` of saga `slot` (counted live in its task) drives.
    pub(crate) fn run(&mut self, slot: usize, d: Driver) {
        if let Some(task) = d.task {
            self.tasks[task].live += 1;
        }
        self.drive(slot, d);
    }

    /// Drives `d` until it waits for a reply or ends (the executor's drive loop).
    fn drive(&mut self, slot: usize, mut d: Driver) {
        loop {
            match d.phase {
                Phase::Done(state) => return self.end(slot, &d, DriverEnd::Outcome(state)),
                Phase::Stuck { .. } => {
                    return self.end(slot, &d, DriverEnd::Outcome(SagaState::Stuck));
                }
                Phase::Forward { step, .. } if d.cancel => {
                    // Before the commit point, or at it with the cancel winning the race.
                    let steps = step + usize::from(d.in_doubt);
                    assert!(steps <= COMMIT_POINT, "model: abort past the pivot");
                    let next = Phase::Compensating {
                        remaining: steps,
                        attempt: 1,
                    };
                    if !self.step_write(slot, &mut d, &[E::Aborted], next) {
                        return;
                    }
                    d.cancel = false;
                }
                Phase::Compensating { remaining: 0, .. } => {
                    let done = Phase::Done(SagaState::Compensated);
                    if !self.step_write(slot, &mut d, &[E::Compensated], done) {
                        return;
                    }
                }
                Phase::Forward { .. } | Phase::Compensating { .. } => {
                    self.sagas[slot].drivers.push(d);
                    return;
                }
            }
        }
    }

    /// The reply to `call` reaches its driver, which records what came of it and drives on.
    pub(crate) fn reply(&mut self, call: CallAt, reply: Reply) {
        let drivers = &mut self.sagas[call.slot].drivers;
        let Some(at) = drivers.iter().position(|d| d.inc == call.inc) else {
            return;
        };
        let mut d = drivers.remove(at);
        let reply = self.answer(call, reply);
        let (events, next): (&[E], Phase) = match (d.phase, reply) {
            (Phase::Forward { step, .. }, Reply::Ok) if step + 1 == STEPS => (
                &[E::StepCompleted, E::Completed],
                Phase::Done(SagaState::Completed),
            ),
            (Phase::Forward { step, .. }, Reply::Ok) => (
                &[E::StepCompleted],
                Phase::Forward {
                    step: step + 1,
                    attempt: 1,
                },
            ),
            (Phase::Forward { step, attempt }, Reply::Transient)
                if step + 1 == STEPS || attempt < ATTEMPTS =>
            {
                (
                    &[E::StepRetrying],
                    Phase::Forward {
                        step,
                        attempt: attempt + 1,
                    },
                )
            }
            (Phase::Forward { step, .. }, Reply::Transient) if step < COMMIT_POINT => (
                &[E::StepUnknown],
                Phase::Compensating {
                    remaining: step + 1,
                    attempt: 1,
                },
            ),
            (Phase::Forward { step, .. }, Reply::Refuse) if step <= COMMIT_POINT => (
                &[E::StepRefused],
                Phase::Compensating {
                    remaining: step,
                    attempt: 1,
                },
            ),
            (Phase::Forward { step, .. }, _) => (
                &[E::StuckForward],
                Phase::Stuck {
                    step,
                    direction: Direction::Forward,
                },
            ),
            (Phase::Compensating { remaining: 1, .. }, Reply::Ok) => (
                &[E::CompensationCompleted, E::Compensated],
                Phase::Done(SagaState::Compensated),
            ),
            (Phase::Compensating { remaining, .. }, Reply::Ok) => (
                &[E::CompensationCompleted],
                Phase::Compensating {
                    remaining: remaining - 1,
                    attempt: 1,
                },
            ),
            (Phase::Compensating { remaining, attempt }, Reply::Transient)
                if attempt < ATTEMPTS =>
            {
                (
                    &[E::CompensationRetrying],
                    Phase::Compensating {
                        remaining,
                        attempt: attempt + 1,
                    },
                )
            }
            (Phase::Compensating { remaining, .. }, _) => (
                &[E::StuckCompensating],
                Phase::Stuck {
                    step: remaining - 1,
                    direction: Direction::Compensate,
                },
            ),
            (Phase::Stuck { .. } | Phase::Done(_), _) => unreachable!("model: no call waits here"),
        };
        if let Phase::Forward { .. } = d.phase {
            // The attempt ran: it may have taken effect, unless its completion is recorded.
            d.in_doubt = reply != Reply::Ok;
        }
        if self.step_write(call.slot, &mut d, events, next) {
            self.drive(call.slot, d);
        }
    }

    /// Writes as driver `d`; on success moves it to `next`, otherwise ends it.
    pub(crate) fn step_write(
        &mut self,
        slot: usize,
        d: &mut Driver,
        events: &[E],
        next: Phase,
    ) -> bool {
        match self.write(d.inc, slot, d.fence, events, next) {
            Wrote::Ok => {
                d.phase = next;
                true
            }
            Wrote::Conflict => {
                self.end(slot, d, DriverEnd::Conflict);
                false
            }
            Wrote::Dead => {
                self.end(slot, d, DriverEnd::Dead);
                false
            }
        }
    }

    /// Driver `d` ended `how`; a cancel it held is lost with it unless it was recorded.
    pub(crate) fn end(&mut self, slot: usize, d: &Driver, how: DriverEnd) {
        if let Some(task) = d.task {
            let t = &mut self.tasks[task];
            t.ends.push(how);
            t.live -= 1;
        }
        let s = &mut self.sagas[slot];
        if d.cancel && s.cancel == CancelFate::Pending {
            s.cancel = CancelFate::Lost;
        }
    }
}
