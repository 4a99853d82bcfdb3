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
