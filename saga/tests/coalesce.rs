//! `saga::log::Coalescer`: natural batching. A lone write runs at once and alone; writes that arrive
//! while a batch is in flight form the next batch (up to the limit); each write gets its own result;
//! a write whose caller is dropped mid-batch does not strand the writes queued behind it.

use std::sync::Arc;

use parking_lot::Mutex;
use saga::async_trait;
use saga::log::{BatchRunner, BatchingConfig, Coalescer};
use tokio::sync::{mpsc, Semaphore};

/// Records each batch, reports its start on `started`, waits for a permit of `gate` before answering
/// `op * 10` (or `Err` for an odd op, as a conflict would).
struct Gated {
    batches: Mutex<Vec<Vec<u32>>>,
    started: mpsc::UnboundedSender<Vec<u32>>,
    gate: Arc<Semaphore>,
}

#[async_trait]
impl BatchRunner<u32, Result<u32, String>> for Gated {
    async fn run_batch(&self, ops: Vec<u32>) -> Vec<Result<u32, String>> {
        self.batches.lock().push(ops.clone());
        drop(self.started.send(ops.clone()));
        self.gate.acquire().await.expect("gate").forget();
        ops.into_iter()
            .map(|op| {
                if op % 2 == 1 {
                    Err(format!("conflict {op}"))
                } else {
                    Ok(op * 10)
                }
            })
            .collect()
    }
}

type Fixture = (
    Coalescer<u32, Result<u32, String>>,
    Arc<Gated>,
    mpsc::UnboundedReceiver<Vec<u32>>,
);

fn coalescer(config: BatchingConfig) -> Fixture {
    let (started, rx) = mpsc::unbounded_channel();
    let runner = Arc::new(Gated {
        batches: Mutex::new(Vec::new()),
        started,
        gate: Arc::new(Semaphore::new(0)),
    });
    (Coalescer::new(runner.clone(), config), runner, rx)
}

/// Lets spawned tasks run until `n` writes wait in the queue (current-thread runtime: each yield
/// runs every ready task).
async fn until_queued(c: &Coalescer<u32, Result<u32, String>>, n: usize) {
    while c.queued() < n {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_lone_write_runs_at_once_in_a_batch_of_its_own() {
    let (c, runner, mut started) = coalescer(BatchingConfig::default());
    runner.gate.add_permits(1);
    assert_eq!(c.submit(4).await, Ok(Ok(40)));
    assert_eq!(started.recv().await, Some(vec![4]));
    runner.gate.add_permits(1);
    assert_eq!(c.submit(2).await, Ok(Ok(20)));
    assert_eq!(*runner.batches.lock(), vec![vec![4], vec![2]]);
}

#[tokio::test(flavor = "current_thread")]
async fn writes_arriving_during_a_batch_form_the_next_one_with_their_own_results() {
    let (c, runner, mut started) = coalescer(BatchingConfig::default().with_writers(1));
    let first = tokio::spawn({
        let c = c.clone();
        async move { c.submit(2).await }
    });
    assert_eq!(started.recv().await, Some(vec![2]));
    let rest: Vec<_> = [4, 5, 6]
        .into_iter()
        .map(|op| {
            let c = c.clone();
            tokio::spawn(async move { c.submit(op).await })
        })
        .collect();
    until_queued(&c, 3).await;
    runner.gate.add_permits(2);
    assert_eq!(first.await.expect("first"), Ok(Ok(20)));
    let mut results = Vec::new();
    for r in rest {
        results.push(r.await.expect("write"));
    }
    assert_eq!(
        results,
        vec![Ok(Ok(40)), Ok(Err("conflict 5".to_owned())), Ok(Ok(60))]
    );
    assert_eq!(*runner.batches.lock(), vec![vec![2], vec![4, 5, 6]]);
    assert_eq!(c.queued(), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn batches_stop_at_the_limit_and_lanes_run_side_by_side() {
    let config = BatchingConfig::default().with_max_batch(2).with_writers(2);
    let (c, runner, mut started) = coalescer(config);
    let spawn = |op: u32| {
        let c = c.clone();
        tokio::spawn(async move { c.submit(op).await })
    };
    // Two lanes: the first two writes each run at once, alone.
    let a = spawn(2);
    let b = spawn(4);
    assert_eq!(started.recv().await, Some(vec![2]));
    assert_eq!(started.recv().await, Some(vec![4]));
    let rest: Vec<_> = [6, 8, 10].into_iter().map(spawn).collect();
    until_queued(&c, 3).await;
    runner.gate.add_permits(5);
    assert_eq!(a.await.expect("a"), Ok(Ok(20)));
    assert_eq!(b.await.expect("b"), Ok(Ok(40)));
    for (r, want) in rest.into_iter().zip([60, 80, 100]) {
        assert_eq!(r.await.expect("write"), Ok(Ok(want)));
    }
    let mut batches = runner.batches.lock().clone();
    batches.sort();
    assert_eq!(batches, vec![vec![2], vec![4], vec![6, 8], vec![10]]);
}

#[tokio::test(flavor = "current_thread")]
async fn a_dropped_caller_does_not_strand_the_writes_queued_behind_it() {
    let (c, runner, mut started) = coalescer(BatchingConfig::default().with_writers(1));
    let first = tokio::spawn({
        let c = c.clone();
        async move { c.submit(2).await }
    });
    assert_eq!(started.recv().await, Some(vec![2]));
    let queued = tokio::spawn({
        let c = c.clone();
        async move { c.submit(4).await }
    });
    until_queued(&c, 1).await;
    // The caller running the first batch goes away mid-write (its saga task was aborted).
    first.abort();
    assert!(first.await.expect_err("aborted").is_cancelled());
    runner.gate.add_permits(1);
    assert_eq!(queued.await.expect("queued"), Ok(Ok(40)));
    assert_eq!(*runner.batches.lock(), vec![vec![2], vec![4]]);
    // The lane is free again: the next lone write runs at once.
    runner.gate.add_permits(1);
    assert_eq!(c.submit(6).await, Ok(Ok(60)));
}

/// A runner that answers fewer writes than it was given (a bug in a backend).
struct Short;

#[async_trait]
impl BatchRunner<u32, u32> for Short {
    async fn run_batch(&self, ops: Vec<u32>) -> Vec<u32> {
        ops.into_iter().skip(1).collect()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_write_left_without_a_result_is_abandoned_not_hung() {
    let c = Coalescer::new(Arc::new(Short), BatchingConfig::default());
    assert!(matches!(
        c.submit(1).await,
        Err(saga::log::BatchAbandoned { .. })
    ));
}
