//! Property: a crash injected at every log write (before and after the write), followed by `recover()`,
//! ends in the same state as the uninterrupted run, with the same effects, none applied twice per
//! idempotency key.

mod common;

use std::sync::Arc;

use common::{definition, paused_runtime, script, Ledger, Script};
use parking_lot::Mutex;
use proptest::prelude::*;
use saga::log::ListQuery;
use saga::testing::{CrashPoint, CrashingLog};
use saga::{Executor, ExecutorConfig, InMemoryLog, SagaId, SagaLog, SagaState};

struct Run {
    state: Option<SagaState>,
    ledger: Ledger,
    writes: u64,
}

fn config() -> ExecutorConfig {
    // A stable owner id: the "restarted process" reclaims its own sagas without waiting for leases.
    ExecutorConfig::default().with_owner_id("crash-test")
}

fn uninterrupted(s: &Script, id: SagaId) -> Run {
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let log = Arc::new(InMemoryLog::new());
    let exec = Executor::with_config(definition(s, &ledger), log.clone(), config());
    let outcome = paused_runtime()
        .block_on(exec.run_with_id(id, Vec::new()))
        .expect("uninterrupted run");
    let stats = log.stats();
    let ledger = std::mem::take(&mut *ledger.lock());
    Run {
        state: Some(outcome.state),
        ledger,
        writes: stats.creates + stats.appends,
    }
}

fn crashed(s: &Script, id: SagaId, k: u64, point: CrashPoint) -> Run {
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let inner = Arc::new(InMemoryLog::new());
    let crashing = Arc::new(CrashingLog::new(inner.clone(), k, point));
    let rt = paused_runtime();
    let first = Executor::with_config(definition(s, &ledger), crashing.clone(), config());
    let result = rt.block_on(first.run_with_id(id, Vec::new()));
    assert!(result.is_err(), "write {k} ({point:?}) crashes the run");
    assert!(crashing.crashed());
    drop(first);

    // The restarted process: same log, same participants (ledger), new executor.
    let second = Executor::with_config(definition(s, &ledger), inner.clone(), config());
    let report = rt.block_on(second.recover()).expect("recover");
    assert!(
        report.failed.is_empty(),
        "recovery failures: {:?}",
        report.failed
    );
    let sagas = rt
        .block_on(inner.list(ListQuery::in_states([], 10)))
        .expect("list");
    let ledger = std::mem::take(&mut *ledger.lock());
    Run {
        state: sagas.first().map(|i| i.state),
        ledger,
        writes: 0,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn crash_at_every_write_then_recover_matches_the_uninterrupted_run(s in script()) {
        let id = SagaId::new();
        let reference = uninterrupted(&s, id);
        for k in 1..=reference.writes {
            for point in [CrashPoint::BeforeWrite, CrashPoint::AfterWrite] {
                let run = crashed(&s, id, k, point);
                if k == 1 && point == CrashPoint::BeforeWrite {
                    // The saga was never created: nothing may have happened.
                    prop_assert_eq!(run.state, None);
                    prop_assert!(run.ledger.calls.is_empty());
                    continue;
                }
                prop_assert_eq!(run.state, reference.state, "state after crash at write {} {:?}", k, point);
                prop_assert_eq!(
                    &run.ledger.applied, &reference.ledger.applied,
                    "effects after crash at write {} {:?}", k, point
                );
                prop_assert_eq!(&run.ledger.compensations, &reference.ledger.compensations);
                // At-least-once delivery, effect once: only the execution in flight at the crash may
                // have run twice.
                let repeated: Vec<_> = run.ledger.successes.iter().filter(|(_, n)| **n > 1).collect();
                prop_assert!(repeated.len() <= 1, "more than one re-executed step: {:?}", repeated);
                prop_assert!(repeated.iter().all(|(_, n)| **n == 2));
            }
        }
    }
}
