//! What model-based cases counted.

use std::collections::BTreeMap;
use std::fmt;

/// The counts of one or more cases; [`merge`](Self::merge) adds them up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ModelReport {
    /// Cases run.
    pub cases: u64,
    /// Ops applied, the final drain's included.
    pub ops: u64,
    /// Transitions after which the invariants were checked (one per op, one more per crash).
    pub transitions: u64,
    /// Ops applied, by [`Op::name`](super::Op::name); the drain's under `drain_*`.
    pub per_op: BTreeMap<String, u64>,
    /// What the executor's calls answered (as the model predicted them), by op and answer: how often
    /// `cancel` was accepted or refused and why, `retry` drove or was refused, and so on.
    pub answers: BTreeMap<String, u64>,
    /// Step and compensation calls the executors made.
    pub step_calls: u64,
    /// Armed crashes that fired at a write.
    pub crashes: u64,
    /// Executions of one idempotency key that succeeded again (the in-flight step after a crash or a
    /// lease takeover): at-least-once delivery, absorbed by the inbox.
    pub re_executions: u64,
    /// Accepted cancels whose driver died (crash, lost lease) before it recorded the abort: the saga
    /// went on where its log said.
    pub cancels_lost: u64,
    /// Forward effects a stale driver's call applied after that step's compensation was applied.
    pub late_effects: u64,
    /// Sagas that ended, by final state.
    pub ended: BTreeMap<String, u64>,
    /// What failed, described (the case's ops included); empty when every invariant held.
    pub failures: Vec<String>,
}

impl ModelReport {
    /// Adds `other`'s counts to these.
    pub fn merge(&mut self, other: Self) {
        self.cases += other.cases;
        self.ops += other.ops;
        self.transitions += other.transitions;
        for (op, n) in other.per_op {
            *self.per_op.entry(op).or_default() += n;
        }
        for (answer, n) in other.answers {
            *self.answers.entry(answer).or_default() += n;
        }
        self.step_calls += other.step_calls;
        self.crashes += other.crashes;
        self.re_executions += other.re_executions;
        self.cancels_lost += other.cancels_lost;
        self.late_effects += other.late_effects;
        for (state, n) in other.ended {
            *self.ended.entry(state).or_default() += n;
        }
        self.failures.extend(other.failures);
    }

    pub(super) fn answered(&mut self, answer: String) {
        *self.answers.entry(answer).or_default() += 1;
    }

    pub(super) fn count(&mut self, name: &str) {
        self.ops += 1;
        *self.per_op.entry(name.to_owned()).or_default() += 1;
    }
}

impl fmt::Display for ModelReport {
    /// One line: the figure the reliability doc records.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "model: {} cases, {} ops, {} transitions checked, {} step calls, {} crashes, \
             {} re-executions, {} cancels lost, {} late effects, ended {:?}, ops {:?}, answers {:?}, \
             {} failures",
            self.cases,
            self.ops,
            self.transitions,
            self.step_calls,
            self.crashes,
            self.re_executions,
            self.cancels_lost,
            self.late_effects,
            self.ended,
            self.per_op,
            self.answers,
            self.failures.len()
        )
    }
}
