//! The reference model: what the executor does, saga by saga, in plain state. It knows the log's side
//! (records, state, owner, fence, lease) and every driver's (where it waits, whether it holds a cancel),
//! and predicts what each op answers.

mod driver;
mod log;
mod ops;

use std::collections::HashMap;

use super::{Reply, SLOTS};
use crate::error::CancelRefusal;
use crate::id::Direction;
use crate::log::{ConflictKind, EventKind, SagaState};
use crate::testing::CrashPoint;

/// Steps of the model's saga: `0, 1` compensatable, `2` the pivot, `3` retriable.
pub(crate) const STEPS: usize = 4;
/// The pivot's index.
pub(crate) const COMMIT_POINT: usize = 2;
/// Attempts of each non-retriable action and of each compensation.
pub(crate) const ATTEMPTS: u32 = 2;
/// The executors' lease TTL, in ms.
pub(crate) const TTL_MS: u64 = 30_000;

/// Where a saga (in the log) or a driver (in memory) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Forward { step: usize, attempt: u32 },
    Compensating { remaining: usize, attempt: u32 },
    Stuck { step: usize, direction: Direction },
    Done(SagaState),
}

impl Phase {
    pub(crate) fn state(self) -> SagaState {
        match self {
            Self::Forward { .. } => SagaState::Running,
            Self::Compensating { .. } => SagaState::Compensating,
            Self::Stuck { .. } => SagaState::Stuck,
            Self::Done(state) => state,
        }
    }
}

/// A step call waiting for its reply: which executor made it, for which saga, step and attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct CallAt {
    pub(crate) inc: usize,
    pub(crate) slot: usize,
    pub(crate) step: usize,
    pub(crate) compensate: bool,
    pub(crate) attempt: u32,
}

/// How an op's call returned (or a task ended), by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    Ok,
    /// The log is gone with the crashed process.
    Dead,
    Conflict(ConflictKind),
    Unknown,
    NotStuck(SagaState),
    OwnedElsewhere,
    Refused(CancelRefusal),
    /// The task was aborted with its process.
    Aborted,
}

/// How one driver ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DriverEnd {
    Outcome(SagaState),
    Conflict,
    Dead,
    Killed,
}

/// What a cancel that was accepted came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CancelFate {
    None,
    /// Accepted, held in the memory of the driver that accepted it.
    Pending,
    /// The saga is compensating.
    Recorded,
    /// The driver holding it died before it recorded the abort.
    Lost,
}

/// A task the test spawned (or `start` did): its drivers, and what they came to.
#[derive(Debug)]
pub(crate) struct Task {
    pub(crate) inc: usize,
    pub(crate) live: usize,
    pub(crate) ends: Vec<DriverEnd>,
    pub(crate) already_driven: usize,
    /// A result decided before any driver ran (a refused operator action, a dead log).
    pub(crate) early: Option<Answer>,
    pub(crate) killed: bool,
}

/// One saga driver.
#[derive(Debug, Clone)]
pub(crate) struct Driver {
    pub(crate) inc: usize,
    pub(crate) task: Option<usize>,
    pub(crate) fence: u64,
    pub(crate) phase: Phase,
    pub(crate) in_doubt: bool,
    pub(crate) cancel: bool,
}

/// One saga, as the log holds it, with its drivers.
#[derive(Debug)]
pub(crate) struct Saga {
    pub(crate) created: bool,
    pub(crate) phase: Phase,
    pub(crate) events: Vec<EventKind>,
    pub(crate) owner: Option<usize>,
    pub(crate) fence: u64,
    pub(crate) lease_until: Option<u64>,
    pub(crate) drivers: Vec<Driver>,
    pub(crate) cancel: CancelFate,
}

/// One executor "process": its owner id's lineage, whether it lives, and its armed crash.
#[derive(Debug)]
pub(crate) struct Inc {
    pub(crate) lineage: usize,
    pub(crate) alive: bool,
    pub(crate) armed: Option<CrashPoint>,
}

/// The whole reference model of one case.
#[derive(Debug)]
pub(crate) struct Model {
    pub(crate) now: u64,
    pub(crate) sagas: Vec<Saga>,
    /// The saga slots in the order of their ids (the order `recover` claims them in).
    pub(crate) by_id: Vec<usize>,
    pub(crate) incs: Vec<Inc>,
    pub(crate) tasks: Vec<Task>,
    pub(crate) primary: usize,
    lineages: usize,
    /// The participants' inboxes: the final answer given to each idempotency key.
    decided: HashMap<(usize, usize, bool), Reply>,
}

/// How a write went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wrote {
    Ok,
    Conflict,
    Dead,
}

impl Model {
    /// A model with one live executor and `by_id` giving the slots in saga-id order.
    pub(crate) fn new(by_id: Vec<usize>) -> Self {
        let saga = || Saga {
            created: false,
            phase: Phase::Forward {
                step: 0,
                attempt: 1,
            },
            events: Vec::new(),
            owner: None,
            fence: 0,
            lease_until: None,
            drivers: Vec::new(),
            cancel: CancelFate::None,
        };
        Self {
            now: 0,
            sagas: (0..usize::from(SLOTS)).map(|_| saga()).collect(),
            by_id,
            incs: vec![Inc {
                lineage: 0,
                alive: true,
                armed: None,
            }],
            tasks: Vec::new(),
            primary: 0,
            lineages: 1,
            decided: HashMap::new(),
        }
    }

    /// Every call waiting for a reply, sorted.
    pub(crate) fn pending(&self) -> Vec<CallAt> {
        let mut calls: Vec<CallAt> = self
            .sagas
            .iter()
            .enumerate()
            .flat_map(|(slot, s)| s.drivers.iter().map(move |d| (slot, d)))
            .filter_map(|(slot, d)| {
                let (step, compensate, attempt) = match d.phase {
                    Phase::Forward { step, attempt } => (step, false, attempt),
                    Phase::Compensating { remaining, attempt } => (remaining - 1, true, attempt),
                    _ => return None,
                };
                Some(CallAt {
                    inc: d.inc,
                    slot,
                    step,
                    compensate,
                    attempt,
                })
            })
            .collect();
        calls.sort();
        calls
    }

    /// The answer the participant gives: an inbox repeats a final answer to the same key.
    pub(crate) fn answer(&mut self, call: CallAt, reply: Reply) -> Reply {
        let key = (call.slot, call.step, call.compensate);
        if let Some(decided) = self.decided.get(&key) {
            return *decided;
        }
        if reply != Reply::Transient {
            self.decided.insert(key, reply);
        }
        reply
    }

    /// The participant forgets a refusal it gave the key (an effect it applied, it keeps).
    pub(crate) fn forget_refusal(&mut self, slot: usize, step: usize, compensate: bool) {
        let key = (slot, step, compensate);
        if self.decided.get(&key) == Some(&Reply::Refuse) {
            self.decided.remove(&key);
        }
    }

    /// A new task of `inc`.
    pub(crate) fn task(&mut self, inc: usize, early: Option<Answer>) -> usize {
        self.tasks.push(Task {
            inc,
            live: 0,
            ends: Vec::new(),
            already_driven: 0,
            early,
            killed: false,
        });
        self.tasks.len() - 1
    }

    /// The process `inc` is gone: its drivers with it.
    pub(crate) fn kill(&mut self, inc: usize) {
        self.incs[inc].alive = false;
        self.incs[inc].armed = None;
        for task in self.tasks.iter_mut().filter(|t| t.inc == inc && t.live > 0) {
            task.killed = true;
        }
        for slot in 0..self.sagas.len() {
            let (dead, live): (Vec<Driver>, Vec<Driver>) =
                std::mem::take(&mut self.sagas[slot].drivers)
                    .into_iter()
                    .partition(|d| d.inc == inc);
            self.sagas[slot].drivers = live;
            for d in dead {
                self.end(slot, &d, DriverEnd::Killed);
            }
        }
    }

    /// A new executor process of `lineage` (a fresh one if `None`), now the current one.
    pub(crate) fn spawn_inc(&mut self, lineage: Option<usize>) -> usize {
        let lineage = lineage.unwrap_or_else(|| {
            self.lineages += 1;
            self.lineages - 1
        });
        self.incs.push(Inc {
            lineage,
            alive: true,
            armed: None,
        });
        self.primary = self.incs.len() - 1;
        self.primary
    }
}
