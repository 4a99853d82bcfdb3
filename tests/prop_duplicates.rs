//! Property: over a transport that drops (with redelivery), duplicates, reorders and delays deliveries
//! from a random seed, remote sagas reach the expected terminal state and every participant effect is
//! applied at most once per idempotency key (exactly once where the saga needed it).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use proptest::prelude::*;
use saga::participant::{Participant, ReplyRouter, RouterConfig};
use saga::testing::faulty_transport::{FaultConfig, FaultyTransport};
use saga::transport::{InProcTransport, Transport};
use saga::{Executor, InMemoryLog, SagaDefinition, SagaState, StepError};
use serde::{Deserialize, Serialize};

const STEPS: u32 = 3;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Data {
    fail_at: Option<u32>,
    done: Vec<u32>,
}

/// Effects applied, per idempotency key ("saga/step/direction").
type Effects = Arc<Mutex<HashMap<String, u32>>>;

async fn participant(t: &Arc<dyn Transport>, step: u32, effects: &Effects) -> Participant {
    let forward = Arc::clone(effects);
    let undo = Arc::clone(effects);
    Participant::builder(format!("p{step}"), Arc::clone(t))
        .command("do", move |ctx, refuse: bool| {
            let effects = Arc::clone(&forward);
            async move {
                if refuse {
                    return Err(StepError::permanent("no"));
                }
                *effects
                    .lock()
                    .entry(ctx.idempotency_key().to_string())
                    .or_default() += 1;
                Ok(ctx.step())
            }
        })
        .command("undo", move |ctx, (): ()| {
            let effects = Arc::clone(&undo);
            async move {
                *effects
                    .lock()
                    .entry(ctx.idempotency_key().to_string())
                    .or_default() += 1;
                Ok::<_, StepError>(())
            }
        })
        .spawn()
        .await
        .expect("participant")
}

fn definition(router: &ReplyRouter) -> SagaDefinition<Data> {
    let mut builder = SagaDefinition::<Data>::builder("dups", 1);
    for step in 0..STEPS {
        let topic = format!("p{step}");
        builder = builder.compensatable(
            format!("s{step}"),
            router.step(
                topic.clone(),
                "do",
                move |d: &Data| d.fail_at == Some(step),
                |d: &mut Data, done: u32| d.done.push(done),
            ),
            router.compensation(topic, "undo", |_: &Data| ()),
        );
    }
    builder.build().expect("valid definition")
}

fn faults() -> impl Strategy<Value = FaultConfig> {
    (
        any::<u64>(),
        0.0..0.3f64,
        0.0..0.3f64,
        0.0..0.3f64,
        0.0..0.3f64,
    )
        .prop_map(|(seed, drop, dup, reorder, delay)| {
            FaultConfig::default()
                .with_seed(seed)
                .with_drop_rate(drop)
                .with_duplicate_rate(dup)
                .with_reorder_rate(reorder)
                .with_delay(delay, Duration::from_millis(20))
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn effects_apply_once_and_sagas_finish(
        faults in faults(),
        sagas in prop::collection::vec(prop::option::of(0..STEPS), 1..6),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .expect("runtime");
        let (outcomes, effects) = rt.block_on(async {
            let inner: Arc<dyn Transport> = Arc::new(InProcTransport::new());
            let t: Arc<dyn Transport> = Arc::new(FaultyTransport::new(inner, faults.clone()));
            let effects: Effects = Arc::default();
            let mut participants = Vec::new();
            for step in 0..STEPS {
                participants.push(participant(&t, step, &effects).await);
            }
            let router = ReplyRouter::start(Arc::clone(&t), RouterConfig::default())
                .await
                .expect("router");
            let executor = Executor::new(definition(&router), Arc::new(InMemoryLog::new()));
            let runs = sagas.iter().map(|fail_at| {
                executor.run(Data { fail_at: *fail_at, done: Vec::new() })
            });
            let outcomes = futures::future::join_all(runs).await;
            for p in participants {
                p.shutdown().await;
            }
            (outcomes, effects)
        });
        let effects = effects.lock();
        prop_assert!(effects.values().all(|n| *n == 1), "an effect applied twice: {:?}", effects);
        for (fail_at, outcome) in sagas.iter().zip(outcomes) {
            let outcome = outcome.expect("saga runs to an end");
            let want = if fail_at.is_some() { SagaState::Compensated } else { SagaState::Completed };
            prop_assert_eq!(outcome.state, want);
            for step in 0..STEPS {
                let ran = match fail_at {
                    Some(f) => step < *f,
                    None => true,
                };
                let undone = fail_at.is_some_and(|f| step < f);
                for (direction, expected) in [("forward", ran), ("compensate", undone)] {
                    let key = format!("{}/{step}/{direction}", outcome.id);
                    prop_assert_eq!(
                        effects.get(&key).copied().unwrap_or(0),
                        u32::from(expected),
                        "{} effects of {}", direction, key
                    );
                }
            }
            if fail_at.is_none() {
                prop_assert_eq!(&outcome.data.done, &(0..STEPS).collect::<Vec<_>>());
            }
        }
    }
}
