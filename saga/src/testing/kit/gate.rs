//! A gate that holds calls until the test lets them through: the tool for racing a cancel, a deadline
//! or a second executor against a step (or any call of a test double) that is known to be in flight.

use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Semaphore;

/// Holds the calls that [`pass`](Self::pass) through it while it is holding; each held call is
/// announced to [`entered`](Self::entered) and waits for a permit from [`release`](Self::release) or
/// for [`open`](Self::open).
///
/// Clones share one gate. A [`ScriptedStep`](super::ScriptedStep) made
/// [`gated`](super::ScriptedStep::gated) passes through it after its call is journaled; test doubles
/// of your own call `pass` wherever they should be held.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use saga::testing::Gate;
/// let gate = Gate::new();
/// let held = tokio::spawn({
///     let gate = gate.clone();
///     async move { gate.pass().await; "through" }
/// });
/// gate.entered().await; // the call is at the gate, and stays there
/// gate.release(1);
/// assert_eq!(held.await.unwrap(), "through");
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct Gate {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: Mutex<State>,
    /// One permit per held call that arrived and was not yet awaited by `entered`.
    entered: Semaphore,
    /// Permits for held calls to go through.
    permits: Semaphore,
}

#[derive(Debug)]
struct State {
    holding: bool,
    waiting: usize,
    held: usize,
}

impl Default for Gate {
    /// A gate that holds every call: the same as [`Gate::new`].
    fn default() -> Self {
        Self::new()
    }
}

impl Gate {
    /// A gate that holds every call until it is released or opened.
    #[must_use]
    pub fn new() -> Self {
        Self::with_holding(true)
    }

    /// A gate that lets calls through until [`hold`](Self::hold) is called.
    #[must_use]
    pub fn passing() -> Self {
        Self::with_holding(false)
    }

    fn with_holding(holding: bool) -> Self {
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    holding,
                    waiting: 0,
                    held: 0,
                }),
                entered: Semaphore::new(0),
                permits: Semaphore::new(0),
            }),
        }
    }

    /// From now on, calls are held.
    pub fn hold(&self) {
        self.inner.state.lock().holding = true;
    }

    /// Lets every held call through, and every later one until [`hold`](Self::hold).
    pub fn open(&self) {
        let mut state = self.inner.state.lock();
        state.holding = false;
        self.inner.permits.add_permits(state.waiting);
    }

    /// Lets `n` held calls through: the ones waiting now, or the next ones to arrive.
    pub fn release(&self, n: usize) {
        self.inner.permits.add_permits(n);
    }

    /// Waits until a call is held at the gate. Each held call satisfies one `entered`, whether it
    /// arrived before or after this was awaited.
    pub async fn entered(&self) {
        if let Ok(permit) = self.inner.entered.acquire().await {
            permit.forget();
        }
    }

    /// How many calls the gate has held so far (released or not).
    #[must_use]
    pub fn held(&self) -> usize {
        self.inner.state.lock().held
    }

    /// The call side: returns at once while the gate is not holding; otherwise announces the call to
    /// [`entered`](Self::entered) and waits until it is released. Cancel safe: a call dropped while
    /// held no longer counts as waiting.
    pub async fn pass(&self) {
        {
            let mut state = self.inner.state.lock();
            if !state.holding {
                return;
            }
            state.waiting += 1;
            state.held += 1;
            self.inner.entered.add_permits(1);
        }
        let _waiting = Waiting(&self.inner);
        if let Ok(permit) = self.inner.permits.acquire().await {
            permit.forget();
        }
    }
}

/// Counts a held call as waiting until it goes through or is dropped.
struct Waiting<'a>(&'a Inner);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.state.lock().waiting -= 1;
    }
}
