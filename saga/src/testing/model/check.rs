//! The invariants checked after every transition, and the comparison of what calls returned with what
//! the model predicted.

use std::collections::HashMap;

use super::reference::{Answer, DriverEnd, Task};
use super::world::{Finished, World};
use crate::executor::SagaOutcome;
use crate::id::Direction;
use crate::log::{EventKind, LogError, SagaState};
use crate::Error;

/// What an error says, in the model's terms (`None`: an error the model never predicts).
pub(super) fn answer_of(e: &Error) -> Option<Answer> {
    Some(match e {
        Error::Log(LogError::Conflict { kind, .. }) => Answer::Conflict(*kind),
        Error::Log(LogError::Backend { .. }) => Answer::Dead,
        Error::UnknownSaga { .. } => Answer::Unknown,
        Error::NotStuck { state, .. } => Answer::NotStuck(*state),
        Error::OwnedElsewhere { .. } => Answer::OwnedElsewhere,
        Error::CancelRefused { reason, .. } => Answer::Refused(*reason),
        Error::DriverAborted { .. } => Answer::Aborted,
        _ => return None,
    })
}

/// `Ok` if `got` is the answer `want`.
pub(super) fn same_answer<T>(
    what: &str,
    want: Answer,
    got: &crate::Result<T>,
) -> Result<(), String> {
    let got_answer = match got {
        Ok(_) => Some(Answer::Ok),
        Err(e) => answer_of(e),
    };
    if got_answer == Some(want) {
        Ok(())
    } else {
        let got = got.as_ref().map(|_| ()).map_err(ToString::to_string);
        Err(format!("{what}: returned {got:?}, model {want:?}"))
    }
}

fn same_end(
    what: &str,
    end: DriverEnd,
    got: &crate::Result<SagaOutcome<u32>>,
) -> Result<(), String> {
    let fits = match (end, got) {
        (DriverEnd::Outcome(state), Ok(outcome)) => outcome.state == state,
        (DriverEnd::Conflict, Err(e)) => matches!(answer_of(e), Some(Answer::Conflict(_))),
        (DriverEnd::Dead, Err(e)) => answer_of(e) == Some(Answer::Dead),
        _ => false,
    };
    if fits {
        Ok(())
    } else {
        let got = got.as_ref().map(|o| o.state).map_err(ToString::to_string);
        Err(format!("{what}: ended {got:?}, model {end:?}"))
    }
}

/// `Ok` if a finished task returned what the model's task predicts.
pub(super) fn task_result(what: &str, task: &Task, finished: Finished) -> Result<(), String> {
    match finished {
        Finished::Aborted => Err(format!("{what}: aborted, but its process lives")),
        Finished::Drive(got) => match (task.early, task.ends.as_slice()) {
            (Some(want), _) => same_answer(what, want, &got),
            (None, [end]) => same_end(what, *end, &got),
            (None, ends) => Err(format!("{what}: model has {} drivers", ends.len())),
        },
        Finished::Recover(got) => {
            if let Some(want) = task.early {
                return same_answer(what, want, &got);
            }
            let report = got.map_err(|e| format!("{what}: recover failed: {e}"))?;
            let count = |f: fn(&DriverEnd) -> bool| task.ends.iter().filter(|e| f(e)).count();
            let want = [
                count(|e| *e == DriverEnd::Outcome(SagaState::Completed)),
                count(|e| *e == DriverEnd::Outcome(SagaState::Compensated)),
                count(|e| *e == DriverEnd::Outcome(SagaState::Stuck)),
                count(|e| *e == DriverEnd::Conflict),
                count(|e| *e == DriverEnd::Dead),
                task.already_driven,
            ];
            let got = [
                report.completed,
                report.compensated,
                report.stuck,
                report.superseded.len(),
                report.failed.len(),
                report.already_driven,
            ];
            if want == got && report.corrupt.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "{what}: report {report:?}; model [completed, compensated, stuck, superseded, \
                     failed, already driven] = {want:?}"
                ))
            }
        }
    }
}

/// What the log held at the previous transition, per saga.
#[derive(Default)]
pub(super) struct History {
    seen: HashMap<usize, (u64, Vec<EventKind>, SagaState)>,
}

impl History {
    /// Checks the log against the previous transition: records only appended, versions only grow
    /// (one per record), terminal states stick, no saga both completed and compensated; and what the
    /// participants saw at their calls (see the mailbox).
    pub(super) async fn check(&mut self, world: &World) -> Vec<String> {
        let mut failures = Vec::new();
        for (slot, id) in world.ids.iter().enumerate() {
            let Ok(Some(snapshot)) = world.log.load(*id).await else {
                continue;
            };
            let events: Vec<EventKind> = snapshot.records.iter().map(|r| r.event.kind()).collect();
            let (version, state) = (snapshot.instance.version, snapshot.instance.state);
            if version != events.len() as u64 {
                failures.push(format!(
                    "saga {slot}: version {version} with {} records",
                    events.len()
                ));
            }
            if events.contains(&EventKind::Completed) && events.contains(&EventKind::Compensated) {
                failures.push(format!(
                    "saga {slot} both completed and compensated: {events:?}"
                ));
            }
            if let Some((old_version, old_events, old_state)) = self.seen.get(&slot) {
                if version < *old_version || !events.starts_with(old_events) {
                    failures.push(format!(
                        "saga {slot}: log went from {old_events:?} to {events:?}"
                    ));
                }
                if old_state.is_terminal() && (state != *old_state || version != *old_version) {
                    failures.push(format!("saga {slot}: terminal {old_state} became {state}"));
                }
            }
            self.seen.insert(slot, (version, events, state));
        }
        failures.append(&mut world.mailbox.seen.lock().violations);
        failures
    }
}

/// At the end of a case: every effect of a completed saga applied and none compensated; every
/// effect of a compensated saga compensated (a forward effect a stale call applied after its
/// compensation is counted as late, not as a leak). Returns the failures and the late effects.
pub(super) fn effects(world: &World, finals: &[Option<SagaState>]) -> (Vec<String>, u64) {
    let seen = world.mailbox.seen.lock();
    let at = |slot: usize, step: u32, direction| {
        seen.applied.iter().position(|k| {
            k.saga_id == world.ids[slot] && k.step == step && k.direction == direction
        })
    };
    let mut failures = Vec::new();
    let mut late = 0;
    for (slot, state) in finals.iter().enumerate() {
        for step in 0..super::reference::STEPS as u32 {
            let (done, undone) = (
                at(slot, step, Direction::Forward),
                at(slot, step, Direction::Compensate),
            );
            match state {
                Some(SagaState::Completed) if done.is_none() || undone.is_some() => {
                    failures.push(format!(
                    "saga {slot} completed: step {step} applied {done:?}, compensated {undone:?}"
                ))
                }
                Some(SagaState::Compensated) => match (done, undone) {
                    (Some(d), Some(u)) if d > u => late += 1,
                    (Some(_), None) => failures.push(format!(
                        "saga {slot} compensated, but step {step}'s effect stays"
                    )),
                    _ => {}
                },
                _ => {}
            }
        }
    }
    (failures, late)
}
