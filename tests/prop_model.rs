//! Model-based test of the executor: random sequences of starts, replies (ok, transient, refused) in
//! any order across sagas and executors, duplicate starts and recoveries, crashes at a write (before
//! or after it lands), restarts, lease expiry with a second executor, clock advances, cancels and
//! operator retries and resolves, run against the real executor over the in-memory log with a
//! reference model stepped alongside; the invariants are checked after every transition
//! (`saga::testing::model`).
//!
//! `SAGA_MODEL_CASES=<n>` sets the number of cases (default 256; 10,000 with `SAGA_LONG_FAULTS=1`);
//! `--nocapture` prints the figure.

mod common;

use std::time::Instant;

use common::paused_runtime;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use saga::testing::fault_scale;
use saga::testing::model::{run_case, ModelReport, Op, Reply};
use saga::testing::CrashPoint;

const MAX_OPS: usize = 40;

fn reply() -> impl Strategy<Value = Reply> {
    prop_oneof![5 => Just(Reply::Ok), 2 => Just(Reply::Transient), 2 => Just(Reply::Refuse)]
}

fn op() -> impl Strategy<Value = Op> {
    let slot = 0u8..3;
    prop_oneof![
        3 => slot.clone().prop_map(|slot| Op::Start { slot }),
        16 => (slot.clone(), any::<u8>(), reply()).prop_map(|(slot, pick, reply)| Op::Reply {
            slot,
            pick,
            reply
        }),
        1 => prop_oneof![Just(CrashPoint::BeforeWrite), Just(CrashPoint::AfterWrite)]
            .prop_map(|point| Op::Crash { point }),
        2 => Just(Op::Restart),
        1 => Just(Op::ExpireLease),
        1 => Just(Op::Takeover),
        1 => (1u8..=40).prop_map(|secs| Op::AdvanceClock { secs }),
        2 => slot.clone().prop_map(|slot| Op::Cancel { slot }),
        2 => slot.clone().prop_map(|slot| Op::Retry { slot }),
        1 => slot.prop_map(|slot| Op::Resolve { slot }),
        1 => Just(Op::Recover),
    ]
}

/// A case: one to three sagas started, then up to 40 ops in all.
fn case() -> impl Strategy<Value = Vec<Op>> {
    (1u8..=3, proptest::collection::vec(op(), 0..=MAX_OPS - 3)).prop_map(|(sagas, ops)| {
        (0..sagas)
            .map(|slot| Op::Start { slot })
            .chain(ops)
            .collect()
    })
}

#[test]
fn the_executor_follows_the_model_through_random_ops() {
    let cases = fault_scale("SAGA_MODEL_CASES", 256, 10_000);
    let started = Instant::now();
    // Shrinking a failure re-runs cases: they are counted too.
    let total = std::cell::RefCell::new(ModelReport::default());
    let config = Config {
        cases: u32::try_from(cases).unwrap_or(u32::MAX),
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&case(), |ops| {
        let report = paused_runtime().block_on(run_case(&ops));
        let failures = report.failures.clone();
        total.borrow_mut().merge(report);
        if failures.is_empty() {
            Ok(())
        } else {
            Err(TestCaseError::fail(failures.join("\n")))
        }
    });
    println!("{} in {:.1?}", total.borrow(), started.elapsed());
    if let Err(e) = result {
        panic!("{e}");
    }
}

fn scenario(ops: &[Op]) -> ModelReport {
    let report = paused_runtime().block_on(run_case(ops));
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    report
}

/// A cancel is accepted into the driver's memory and recorded at the next step boundary: a crash
/// before that loses it, and the restarted executor drives the saga on from its log (documented in
/// `Executor::cancel` and docs/contract.md).
#[test]
fn a_cancel_accepted_before_a_crash_is_lost_with_its_driver() {
    let ok = |slot| Op::Reply {
        slot,
        pick: 0,
        reply: Reply::Ok,
    };
    let report = scenario(&[
        Op::Start { slot: 0 },
        ok(0),
        Op::Cancel { slot: 0 },
        Op::Restart,
    ]);
    assert_eq!(report.answers.get("cancel Ok"), Some(&1));
    assert_eq!(report.cancels_lost, 1);
    assert_eq!(report.ended.get("completed"), Some(&1));
}

/// A lease that lapses mid-step: the new owner re-runs the step, a cancel makes it compensate the
/// step in doubt, and then the old owner's call of that step succeeds: its effect lands after its
/// compensation (the participant must refuse an action whose compensation it already ran).
#[test]
fn a_stale_call_can_apply_its_effect_after_the_compensation() {
    let reply = |pick, reply| Op::Reply {
        slot: 0,
        pick,
        reply,
    };
    let report = scenario(&[
        Op::Start { slot: 0 },
        reply(0, Reply::Ok),
        Op::ExpireLease,
        Op::Cancel { slot: 0 },
        // The new owner's call of step 1 (pick 1) fails; it aborts and compensates step 1, then 0.
        reply(1, Reply::Transient),
        reply(1, Reply::Ok),
        reply(1, Reply::Ok),
        // The old owner's call of step 1 succeeds last.
        reply(0, Reply::Ok),
    ]);
    assert_eq!(report.late_effects, 1);
    assert_eq!(report.ended.get("compensated"), Some(&1));
}

/// The pivot gives up under its new owner (transient twice: stuck, outcome unknown) while the old
/// owner's call of it succeeded: the operator's retry gets the inbox's answer and the saga completes.
#[test]
fn a_stuck_pivot_that_a_stale_call_applied_completes_on_retry() {
    let reply = |pick, reply| Op::Reply {
        slot: 0,
        pick,
        reply,
    };
    let report = scenario(&[
        Op::Start { slot: 0 },
        reply(0, Reply::Ok),
        reply(0, Reply::Ok),
        reply(0, Reply::Transient),
        Op::ExpireLease,
        reply(1, Reply::Transient),
        reply(0, Reply::Ok),
        Op::Retry { slot: 0 },
        reply(0, Reply::Refuse),
    ]);
    assert_eq!(report.answers.get("retry drives"), Some(&1));
    assert_eq!(report.ended.get("completed"), Some(&1));
}

/// A saga taken over by `cancel` is driven on a task the executor spawned; when that process crashes,
/// the driver dies with it and the saga waits for the next owner.
#[test]
fn a_cancel_takeover_dies_with_its_process() {
    let report = scenario(&[
        Op::Start { slot: 0 },
        Op::Takeover,
        Op::AdvanceClock { secs: 30 },
        Op::Cancel { slot: 0 },
        Op::Crash {
            point: CrashPoint::BeforeWrite,
        },
        Op::Start { slot: 1 },
        Op::Start { slot: 0 },
        Op::Resolve { slot: 0 },
    ]);
    assert_eq!(report.answers.get("cancel Ok"), Some(&1));
    assert_eq!(report.answers.get("start Dead"), Some(&2));
    assert_eq!(report.ended.get("compensated"), Some(&1));
}

/// After a crash, the step the saga was at may have run: a cancel that takes the saga over compensates
/// it too, though its action was never called here (the contract's in-doubt rule).
#[test]
fn a_cancel_after_a_crash_compensates_the_step_in_doubt() {
    let report = scenario(&[
        Op::Start { slot: 0 },
        Op::Crash {
            point: CrashPoint::AfterWrite,
        },
        Op::Takeover,
        Op::Reply {
            slot: 0,
            pick: 0,
            reply: Reply::Ok,
        },
        Op::AdvanceClock { secs: 30 },
        Op::Cancel { slot: 0 },
    ]);
    assert_eq!(report.answers.get("cancel Ok"), Some(&1));
    assert_eq!(report.ended.get("compensated"), Some(&1));
}
