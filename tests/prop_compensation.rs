//! Property: over random definitions, failure points and transient failures, compensations run exactly
//! for the steps that started (and did not refuse), strictly in reverse order, no forward step runs after
//! compensation begins, and pivot/retriable steps are never compensated.

mod common;

use std::sync::Arc;

use common::{definition, expected, paused_runtime, script, Ledger};
use parking_lot::Mutex;
use proptest::prelude::*;
use saga::{Direction, Executor, InMemoryLog, SagaState, StepKind};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn compensation_follows_the_saga_contract(s in script()) {
        let ledger = Arc::new(Mutex::new(Ledger::default()));
        let def = definition(&s, &ledger);
        let exec = Executor::new(def, Arc::new(InMemoryLog::new()));
        let outcome = paused_runtime()
            .block_on(exec.run(Vec::new()))
            .expect("in-memory saga runs to an end");
        let want = expected(&s);
        let l = ledger.lock();

        prop_assert_eq!(outcome.state, want.state, "terminal state");
        prop_assert_eq!(&l.compensations, &want.compensated, "compensated steps, in completion order");

        // Strictly reverse order.
        prop_assert!(l.compensations.windows(2).all(|w| w[0] > w[1]));

        // Never a forward step after compensation begins.
        if let Some(first) = l.calls.iter().position(|c| c.1 == Direction::Compensate) {
            prop_assert!(
                l.calls[first..].iter().all(|c| c.1 == Direction::Compensate),
                "forward call after compensation began: {:?}", l.calls
            );
        }

        // Forward calls happen exactly for the steps the contract says start, in order.
        let mut started: Vec<usize> = l.calls.iter().filter(|c| c.1 == Direction::Forward).map(|c| c.0).collect();
        started.dedup();
        prop_assert_eq!(&started, &want.started);

        // Only compensatable, started steps are ever compensated.
        for c in l.calls.iter().filter(|c| c.1 == Direction::Compensate) {
            prop_assert_eq!(s.kinds[c.0], StepKind::Compensatable);
            prop_assert!(want.started.contains(&c.0));
        }

        // A step that refused is not compensated; one with unknown outcome is.
        if let Some(r) = s.refuse_at {
            prop_assert!(!l.compensations.contains(&r));
        }

        // Attempts of each forward step are consecutive from 1 and respect the budget.
        for step in &want.started {
            let attempts: Vec<u32> = l.calls.iter()
                .filter(|c| c.0 == *step && c.1 == Direction::Forward)
                .map(|c| c.2).collect();
            prop_assert!(attempts.iter().copied().eq(1..=attempts.len() as u32));
            if s.kinds[*step] != StepKind::Retriable {
                prop_assert!(attempts.len() as u32 <= common::FORWARD_ATTEMPTS);
            }
        }

        // Completed sagas carry every step's output.
        if want.state == SagaState::Completed {
            prop_assert_eq!(outcome.data, (0..s.kinds.len()).collect::<Vec<_>>());
        }
    }
}
