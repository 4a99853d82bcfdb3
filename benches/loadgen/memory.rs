//! The in-memory target and its hand-written tokio baseline.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::runner::{drive, Args, Stats};

/// What the baseline stores per write: the same information the log records (position, time, kind,
/// step, the step's output bytes), without saga logic.
#[allow(dead_code)]
struct Rec {
    seq: u64,
    kind: u8,
    step: u32,
    at_ms: u64,
    payload: Option<Box<[u8]>>,
}

/// The instance row: definition, state, records.
#[allow(dead_code)]
struct Row {
    definition: &'static str,
    state: u8,
    records: Vec<Rec>,
}

type NoOp = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<(), ()>> + Send>> + Send + Sync>;

/// Hand-written code doing the same work per saga as the library over the in-memory log: one insert,
/// then per step a call through a boxed async fn and an append under a sharded lock, plus the final
/// state write; compensations on failure. No serde, no spans, no replayable records.
pub async fn baseline(args: &Args) -> Stats {
    const SHARDS: u64 = 64;
    let map: Arc<Vec<Mutex<HashMap<u128, Row>>>> =
        Arc::new((0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect());
    let fail_at = args.fail_at;
    let steps: Arc<Vec<NoOp>> = Arc::new(
        (1..=args.steps)
            .map(|i| -> NoOp {
                let fails = fail_at == Some(i);
                Arc::new(move || {
                    Box::pin(async move {
                        if fails {
                            Err(())
                        } else {
                            Ok(())
                        }
                    })
                })
            })
            .collect(),
    );
    let compensations: Arc<Vec<NoOp>> = Arc::new(
        (1..=args.steps)
            .map(|_| -> NoOp { Arc::new(|| Box::pin(async { Ok(()) })) })
            .collect(),
    );
    let n_steps = args.steps;
    drive(args.sagas, args.concurrency, move |_| {
        let map = Arc::clone(&map);
        let steps = Arc::clone(&steps);
        let compensations = Arc::clone(&compensations);
        async move {
            let id = uuid::Uuid::now_v7().as_u128();
            let shard = &map[(id % SHARDS as u128) as usize];
            let now = crate::runner::now_ms;
            let write = |kind: u8, step: u32, payload: Option<&[u8]>| {
                let mut s = shard.lock();
                let row = s.entry(id).or_insert_with(|| Row {
                    definition: "loadgen",
                    state: 0,
                    records: Vec::new(),
                });
                let seq = row.records.len() as u64 + 1;
                row.state = kind;
                row.records.push(Rec {
                    seq,
                    kind,
                    step,
                    at_ms: now(),
                    payload: payload.map(Box::from),
                });
            };
            // The saga data (unit) as its output bytes, as a durable record would keep it.
            let output: &[u8] = b"null";
            write(0, 0, Some(output));
            let mut failed = None;
            for (i, step) in steps.iter().enumerate() {
                if step().await.is_err() {
                    failed = Some(i);
                    break;
                }
                write(1, i as u32, Some(output));
            }
            if let Some(f) = failed {
                write(2, f as u32, None);
                for j in (0..f).rev() {
                    let _ = compensations[j]().await;
                    write(3, j as u32, None);
                }
            }
            let _ = n_steps;
            write(4, 0, None);
        }
    })
    .await
}
