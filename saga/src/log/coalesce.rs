//! Natural batching of log writes: a [`Coalescer`] runs the writes that arrive while a batch is in
//! flight together as the next batch, and never waits for a batch to fill.
//!
//! A backend implements [`BatchRunner`] (run many writes in one transaction, pipeline or statement,
//! one result per write) and sends each write through [`Coalescer::submit`]. A write that finds a free
//! *writer lane* runs at once, alone, on the caller's task: a lone saga pays nothing for batching.
//! A write that finds every lane busy joins the queue; when a lane's batch ends, the lane takes
//! everything queued (up to [`BatchingConfig::with_max_batch`]) as its next batch, on a task of its
//! own, until the queue is empty.

use std::sync::Arc;

use async_trait::async_trait;
use parking_lot::Mutex;
use tokio::sync::oneshot;

/// Settings of a [`Coalescer`]: how many writes one batch carries at most and how many batches run at
/// once, built with `with_*` methods.
///
/// ```
/// use saga::log::BatchingConfig;
/// let config = BatchingConfig::default().with_max_batch(64).with_writers(1);
/// assert_eq!((config.max_batch(), config.writers()), (64, 1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchingConfig {
    max_batch: usize,
    writers: usize,
}

impl Default for BatchingConfig {
    /// Batches of up to 128 writes, 2 writer lanes.
    fn default() -> Self {
        Self {
            max_batch: 128,
            writers: 2,
        }
    }
}

impl BatchingConfig {
    /// The most writes one batch carries (at least 1).
    #[must_use]
    pub fn with_max_batch(mut self, max: usize) -> Self {
        self.max_batch = max.max(1);
        self
    }

    /// How many batches may be in flight at once (at least 1), e.g. one per connection the log may
    /// use for writes.
    #[must_use]
    pub fn with_writers(mut self, writers: usize) -> Self {
        self.writers = writers.max(1);
        self
    }

    /// The most writes per batch.
    #[must_use]
    pub const fn max_batch(&self) -> usize {
        self.max_batch
    }

    /// The number of writer lanes.
    #[must_use]
    pub const fn writers(&self) -> usize {
        self.writers
    }
}

/// What a [`Coalescer`] needs from the log behind it: run a batch of writes.
#[async_trait]
pub trait BatchRunner<Op, Out>: Send + Sync + 'static {
    /// Runs `ops` (one or more, in arrival order) and returns one output per op, in the same order.
    /// Each op keeps its own outcome: one op's conflict must not fail the others.
    async fn run_batch(&self, ops: Vec<Op>) -> Vec<Out>;
}

/// [`Coalescer::submit`] failed: the batch carrying the write ended without giving it a result (its
/// runner panicked or returned too few outputs, or the runtime shut down). Whether the write happened
/// is unknown, as after a dropped connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the batch carrying this write ended without its result")]
#[non_exhaustive]
pub struct BatchAbandoned;

struct Pending<Op, Out> {
    op: Op,
    reply: oneshot::Sender<Out>,
}

struct State<Op, Out> {
    queue: Vec<Pending<Op, Out>>,
    /// Lanes running a batch (inline or on a drainer task).
    busy: usize,
}

struct Shared<Op, Out> {
    runner: Arc<dyn BatchRunner<Op, Out>>,
    state: Mutex<State<Op, Out>>,
    config: BatchingConfig,
}

/// Coalesces concurrent writes into batches, tuned by [`BatchingConfig`]. Cheap to clone; clones
/// share the queue and the lanes. Spawns no task until writes queue up, and none outlives the queue.
pub struct Coalescer<Op, Out> {
    shared: Arc<Shared<Op, Out>>,
}

impl<Op, Out> Clone for Coalescer<Op, Out> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<Op, Out> std::fmt::Debug for Coalescer<Op, Out> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.shared.state.lock();
        f.debug_struct("Coalescer")
            .field("config", &self.shared.config)
            .field("busy", &state.busy)
            .field("queued", &state.queue.len())
            .finish()
    }
}

impl<Op: Send + 'static, Out: Send + 'static> Coalescer<Op, Out> {
    /// A coalescer running its batches on `runner`.
    #[must_use]
    pub fn new(runner: Arc<dyn BatchRunner<Op, Out>>, config: BatchingConfig) -> Self {
        Self {
            shared: Arc::new(Shared {
                runner,
                state: Mutex::new(State {
                    queue: Vec::new(),
                    busy: 0,
                }),
                config,
            }),
        }
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> BatchingConfig {
        self.shared.config
    }

    /// How many writes are waiting for a lane.
    #[must_use]
    pub fn queued(&self) -> usize {
        self.shared.state.lock().queue.len()
    }

    /// Runs `op`: at once and alone if a lane is free, otherwise in the next batch. Returns its own
    /// output.
    ///
    /// Dropping the future of a write that is already running abandons only that write; writes
    /// queued behind it are still run.
    ///
    /// # Errors
    /// [`BatchAbandoned`] if the batch ended without a result for this write.
    pub async fn submit(&self, op: Op) -> Result<Out, BatchAbandoned> {
        let queued = {
            let mut state = self.shared.state.lock();
            if state.busy < self.shared.config.writers && state.queue.is_empty() {
                state.busy += 1;
                Err(op)
            } else {
                let (reply, rx) = oneshot::channel();
                state.queue.push(Pending { op, reply });
                Ok(rx)
            }
        };
        match queued {
            Ok(rx) => rx.await.map_err(|_| BatchAbandoned),
            Err(op) => {
                let lane = Lane {
                    shared: Some(Arc::clone(&self.shared)),
                    respawn: true,
                };
                let out = self.shared.runner.run_batch(vec![op]).await.pop();
                drop(lane);
                out.ok_or(BatchAbandoned)
            }
        }
    }
}

/// A busy lane; dropping it (its batch ended, or its future or task was dropped) hands the lane to a
/// drainer task if writes are queued, or frees it.
struct Lane<Op: Send + 'static, Out: Send + 'static> {
    shared: Option<Arc<Shared<Op, Out>>>,
    /// Whether dropping may spawn a drainer: not for a drainer task dropped before it ever ran (a
    /// runtime shutting down drops the tasks it will not run; respawning would never end).
    respawn: bool,
}

impl<Op: Send + 'static, Out: Send + 'static> Drop for Lane<Op, Out> {
    fn drop(&mut self) {
        let Some(shared) = self.shared.take() else {
            return;
        };
        let mut state = shared.state.lock();
        if !state.queue.is_empty() && self.respawn {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                drop(state);
                let lane = Lane {
                    shared: Some(shared),
                    respawn: false,
                };
                runtime.spawn(drain(lane));
                return;
            }
        }
        state.busy -= 1;
        // Nobody is left to run the queue (no runtime to run it on): its callers get
        // `BatchAbandoned`, and a later write finds an empty queue and a free lane.
        if state.busy == 0 {
            state.queue.clear();
        }
    }
}

/// Runs batches from the queue until it is empty, then frees the lane.
async fn drain<Op: Send + 'static, Out: Send + 'static>(mut lane: Lane<Op, Out>) {
    lane.respawn = true;
    let Some(shared) = lane.shared.clone() else {
        return;
    };
    loop {
        let batch: Vec<Pending<Op, Out>> = {
            let mut state = shared.state.lock();
            if state.queue.is_empty() {
                state.busy -= 1;
                lane.shared = None;
                return;
            }
            let n = state.queue.len().min(shared.config.max_batch);
            state.queue.drain(..n).collect()
        };
        let (ops, replies): (Vec<Op>, Vec<oneshot::Sender<Out>>) =
            batch.into_iter().map(|p| (p.op, p.reply)).unzip();
        let outs = shared.runner.run_batch(ops).await;
        for (reply, out) in replies.into_iter().zip(outs) {
            // The caller may have gone away (its saga task was aborted); the write stands.
            drop(reply.send(out));
        }
    }
}
