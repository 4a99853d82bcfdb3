//! Assertions over a [`Journal`]: the parts of the saga contract its calls can show.

use std::collections::{HashMap, HashSet};

use super::{Call, CallOutcome, Journal};
use crate::id::{Direction, IdempotencyKey, SagaId};

/// What one saga's calls showed so far.
#[derive(Default)]
struct SagaTrack {
    /// The forward keys of the steps whose action was called.
    started: HashSet<IdempotencyKey>,
    /// The key of the last compensation called.
    last_compensated: Option<IdempotencyKey>,
}

impl Journal {
    /// Panics unless, in every saga of the journal, compensation ran like the contract says: no
    /// action was called after the first compensation, compensations went strictly from the last
    /// step to the first (retries of one compensation may repeat it), and only steps whose action
    /// was called were compensated.
    #[track_caller]
    pub fn assert_compensated_in_reverse(&self) {
        if let Err(message) = self.with_calls(check_reverse_order) {
            panic!("{message}\njournal: {:?}", self.summary());
        }
    }

    /// Panics unless every idempotency key succeeded at most once: each effect took place once,
    /// however often it was retried, redelivered or recovered.
    #[track_caller]
    pub fn assert_each_effect_once(&self) {
        let twice = self.with_calls(|calls| {
            let mut successes: HashMap<IdempotencyKey, usize> = HashMap::new();
            for call in calls.iter().filter(|c| c.outcome == CallOutcome::Succeeded) {
                *successes.entry(call.key).or_default() += 1;
            }
            let mut twice: Vec<String> = successes
                .into_iter()
                .filter(|&(_, n)| n > 1)
                .map(|(key, n)| format!("{key} succeeded {n} times"))
                .collect();
            twice.sort();
            twice
        });
        assert!(
            twice.is_empty(),
            "effects applied more than once: {twice:?}\njournal: {:?}",
            self.summary()
        );
    }
}

fn check_reverse_order(calls: &[Call]) -> Result<(), String> {
    let mut sagas: HashMap<SagaId, SagaTrack> = HashMap::new();
    for call in calls {
        let track = sagas.entry(call.key.saga_id).or_default();
        let action = IdempotencyKey::new(call.key.saga_id, call.key.step, Direction::Forward);
        match call.key.direction {
            Direction::Forward => {
                if track.last_compensated.is_some() {
                    return Err(format!("action {call} was called after compensation began"));
                }
                track.started.insert(action);
            }
            Direction::Compensate => {
                if !track.started.contains(&action) {
                    return Err(format!("{call} ran, but its action was never called"));
                }
                if track
                    .last_compensated
                    .is_some_and(|last| call.key.step > last.step)
                {
                    return Err(format!("{call} ran after an earlier step's compensation"));
                }
                track.last_compensated = Some(call.key);
            }
        }
    }
    Ok(())
}
