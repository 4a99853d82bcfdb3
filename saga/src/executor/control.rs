//! The control block a saga's driver shares with `cancel`: where the saga is, and who wins the race
//! between "cancel" and "start the pivot".

use std::sync::atomic::{AtomicU8, Ordering};

use tokio::sync::Notify;

use super::replay::Phase;
use crate::error::CancelRefusal;
use crate::log::SagaState;

/// Reserved; the driver does not know the saga's phase yet (it is loading or claiming it).
const PENDING: u8 = 0;
/// Forward, before the commit point: a cancel is accepted.
const RUNNING: u8 = 1;
/// A cancel was accepted; the driver compensates at its next step boundary.
const CANCEL_REQUESTED: u8 = 2;
/// Past the point of no return (the pivot started, or a pivotless saga's last step completed).
const COMMITTED: u8 = 3;
/// Compensating: an (extra) cancel is a no-op that is accepted.
const COMPENSATING: u8 = 4;
/// Parked for an operator.
const STUCK: u8 = 5;
const DONE_COMPLETED: u8 = 6;
const DONE_COMPENSATED: u8 = 7;
const DONE_RESOLVED: u8 = 8;
/// The slot was given up; whoever waits on it starts over.
const RELEASED: u8 = 9;

/// What `cancel` learns from a saga's control block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CancelAnswer {
    /// The saga will compensate.
    Accepted,
    /// It will not.
    Refused(CancelRefusal),
    /// The driver let go of the saga; ask again from the log.
    Released,
}

/// Shared between a saga's driver and `cancel`: who wins the race between "cancel" and "start the pivot"
/// is decided by one compare-and-swap.
#[derive(Debug)]
pub(crate) struct Control {
    state: AtomicU8,
    changed: Notify,
}

impl Default for Control {
    fn default() -> Self {
        Self {
            state: AtomicU8::new(PENDING),
            changed: Notify::new(),
        }
    }
}

impl Control {
    fn set(&self, state: u8) {
        self.state.store(state, Ordering::Release);
        self.changed.notify_waiters();
    }

    /// Waits until the state is not one of `transient`, and returns it.
    async fn settled(&self, transient: &[u8]) -> u8 {
        loop {
            let changed = self.changed.notified();
            let state = self.state.load(Ordering::Acquire);
            if !transient.contains(&state) {
                return state;
            }
            changed.await;
        }
    }

    /// The driver knows where the saga is: sets the state the phase implies. `in_doubt` means the
    /// current forward step may already have started (after a recovery, or a failed attempt), which at
    /// the commit point means the pivot may have run.
    pub(crate) fn start(&self, phase: Phase, in_doubt: bool, commit_point: usize) {
        self.set(match phase {
            Phase::Forward { step, .. }
                if step < commit_point || (step == commit_point && !in_doubt) =>
            {
                RUNNING
            }
            Phase::Forward { .. } => COMMITTED,
            Phase::Compensating { .. } => COMPENSATING,
            Phase::Stuck { .. } => STUCK,
            Phase::Done(state) => done(state),
        });
    }

    /// The driver moved to `phase` (compensation, stuck or finished); a forward phase keeps the current
    /// state, which only [`commit`](Self::commit) and `cancel` change.
    pub(crate) fn entered(&self, phase: Phase) {
        match phase {
            Phase::Forward { .. } => {}
            Phase::Compensating { .. } => self.set(COMPENSATING),
            Phase::Stuck { .. } => self.set(STUCK),
            Phase::Done(state) => self.set(done(state)),
        }
    }

    /// Asks for cancellation, waiting while the driver is still finding out where the saga is.
    pub(crate) async fn request_cancel(&self) -> CancelAnswer {
        loop {
            match self.settled(&[PENDING]).await {
                RUNNING => {
                    if self
                        .state
                        .compare_exchange(
                            RUNNING,
                            CANCEL_REQUESTED,
                            Ordering::AcqRel,
                            Ordering::Acquire,
                        )
                        .is_ok()
                    {
                        self.changed.notify_waiters();
                        return CancelAnswer::Accepted;
                    }
                }
                CANCEL_REQUESTED | COMPENSATING => return CancelAnswer::Accepted,
                COMMITTED => return CancelAnswer::Refused(CancelRefusal::PastPivot),
                STUCK => return CancelAnswer::Refused(CancelRefusal::Stuck),
                DONE_COMPLETED => {
                    return CancelAnswer::Refused(CancelRefusal::Finished(SagaState::Completed))
                }
                DONE_COMPENSATED => {
                    return CancelAnswer::Refused(CancelRefusal::Finished(SagaState::Compensated))
                }
                DONE_RESOLVED => {
                    return CancelAnswer::Refused(CancelRefusal::Finished(SagaState::Resolved))
                }
                _ => return CancelAnswer::Released,
            }
        }
    }

    /// After an accepted cancel: resolves once the driver moved on from holding it — `true` if the saga
    /// is compensating (the abort is recorded), parked or compensated; `false` for anything else (the
    /// driver let go first, or this is another driver's slot), and then the log tells what landed.
    pub(crate) async fn cancel_recorded(&self) -> bool {
        matches!(
            self.settled(&[PENDING, CANCEL_REQUESTED]).await,
            COMPENSATING | STUCK | DONE_COMPENSATED
        )
    }

    /// The state as a saga state, once the driver knows it; `None` once released.
    pub(crate) async fn saga_state(&self) -> Option<SagaState> {
        match self.settled(&[PENDING]).await {
            RUNNING | CANCEL_REQUESTED | COMMITTED => Some(SagaState::Running),
            COMPENSATING => Some(SagaState::Compensating),
            STUCK => Some(SagaState::Stuck),
            DONE_COMPLETED => Some(SagaState::Completed),
            DONE_COMPENSATED => Some(SagaState::Compensated),
            DONE_RESOLVED => Some(SagaState::Resolved),
            _ => None,
        }
    }

    /// Resolves once the slot is released.
    pub(crate) async fn released(&self) {
        let everything_else: Vec<u8> = (PENDING..RELEASED).collect();
        self.settled(&everything_else).await;
    }

    /// Marks the point of no return; `false` if a cancel got there first.
    pub(crate) fn commit(&self) -> bool {
        match self
            .state
            .compare_exchange(RUNNING, COMMITTED, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => {
                self.changed.notify_waiters();
                true
            }
            Err(current) => current == COMMITTED,
        }
    }

    pub(crate) fn cancel_requested(&self) -> bool {
        self.state.load(Ordering::Acquire) == CANCEL_REQUESTED
    }

    /// Marks the slot given up (its guard dropped): whoever waits on it starts over.
    pub(crate) fn release(&self) {
        self.set(RELEASED);
    }

    /// Resolves when cancel is requested (used to cut a backoff short).
    pub(crate) async fn cancelled(&self) {
        self.settled(&[PENDING, RUNNING]).await;
    }
}

const fn done(state: SagaState) -> u8 {
    match state {
        SagaState::Completed => DONE_COMPLETED,
        SagaState::Resolved => DONE_RESOLVED,
        _ => DONE_COMPENSATED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running() -> Control {
        let c = Control::default();
        c.start(
            Phase::Forward {
                step: 0,
                attempt: 1,
            },
            false,
            1,
        );
        c
    }

    #[tokio::test]
    async fn cancel_and_commit_race_has_one_winner() {
        let c = running();
        assert_eq!(c.request_cancel().await, CancelAnswer::Accepted);
        assert!(!c.commit());
        let c = running();
        assert!(c.commit());
        assert_eq!(
            c.request_cancel().await,
            CancelAnswer::Refused(CancelRefusal::PastPivot)
        );
        assert!(c.commit());
    }

    #[tokio::test]
    async fn a_pivot_in_doubt_is_past_the_point_of_no_return() {
        let c = Control::default();
        c.start(
            Phase::Forward {
                step: 1,
                attempt: 1,
            },
            true,
            1,
        );
        assert_eq!(
            c.request_cancel().await,
            CancelAnswer::Refused(CancelRefusal::PastPivot)
        );
    }
}
