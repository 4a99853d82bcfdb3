//! The breaker's lock-free state machine.
//!
//! The whole state lives in one `AtomicU64` (see [`Word`]). Every transition is one
//! compare-and-swap that bumps the generation, so exactly one caller wins it (and emits its `tracing`
//! event), and an outcome of a call admitted under an older generation never moves the state.
//!
//! Time is passed in (nanoseconds on the breaker's clock) so the loom tests can drive it.

use std::time::Duration;

use super::super::sync::{AtomicU64, Ordering};
use super::window::Window;
use super::word::{Word, NANOS_PER_MILLI};
use super::{CircuitBreakerConfig, CircuitState};

/// A call the breaker let through; its outcome must be reported with [`Core::record`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Permit {
    generation: u64,
    trial: bool,
}

impl Permit {
    #[cfg(loom)]
    pub(crate) const fn is_trial(self) -> bool {
        self.trial
    }
}

/// A state change, returned to the one caller whose compare-and-swap made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Transition {
    pub(crate) from: CircuitState,
    pub(crate) to: CircuitState,
}

#[derive(Debug)]
pub(crate) struct Core {
    word: AtomicU64,
    consecutive: AtomicU64,
    window: Option<Window>,
    config: CircuitBreakerConfig,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Core {
    pub(crate) fn new(config: CircuitBreakerConfig) -> Self {
        Self {
            word: AtomicU64::new(Word::new(CircuitState::Closed, 0, 0).0),
            consecutive: AtomicU64::new(0),
            window: config
                .failure_rate()
                .map(|_| Window::new(nanos(config.window()))),
            config,
        }
    }

    pub(crate) const fn config(&self) -> &CircuitBreakerConfig {
        &self.config
    }

    fn load(&self) -> Word {
        Word(self.word.load(Ordering::Acquire))
    }

    fn swap(&self, current: Word, next: Word) -> Result<(), Word> {
        self.word
            .compare_exchange(current.0, next.0, Ordering::AcqRel, Ordering::Acquire)
            .map(drop)
            .map_err(Word)
    }

    /// The state as a call at `now` would find it: an open breaker whose time is up reports half-open.
    pub(crate) fn state(&self, now: u64) -> CircuitState {
        let word = self.load();
        match word.state() {
            CircuitState::Open if now >= word.payload().saturating_mul(NANOS_PER_MILLI) => {
                CircuitState::HalfOpen
            }
            state => state,
        }
    }

    /// Lets a call through, or says how long until the breaker may let one through.
    pub(crate) fn acquire(
        &self,
        now: impl Fn() -> u64,
    ) -> Result<(Permit, Option<Transition>), Duration> {
        let mut word = self.load();
        loop {
            let generation = word.generation();
            let next = match word.state() {
                CircuitState::Closed => {
                    let permit = Permit {
                        generation,
                        trial: false,
                    };
                    return Ok((permit, None));
                }
                CircuitState::Open => {
                    let now = now();
                    let until = word.payload().saturating_mul(NANOS_PER_MILLI);
                    if now < until {
                        return Err(Duration::from_nanos(until - now));
                    }
                    Word::half_open(generation + 1, 1, 0)
                }
                CircuitState::HalfOpen => {
                    let (admitted, succeeded) = word.trials();
                    if admitted >= u64::from(self.config.half_open_calls()) {
                        return Err(self.config.open_duration());
                    }
                    Word::half_open(generation, admitted + 1, succeeded)
                }
            };
            match self.swap(word, next) {
                Ok(()) => {
                    let permit = Permit {
                        generation: next.generation(),
                        trial: true,
                    };
                    let transition = (word.state() == CircuitState::Open).then_some(Transition {
                        from: CircuitState::Open,
                        to: CircuitState::HalfOpen,
                    });
                    return Ok((permit, transition));
                }
                Err(actual) => word = actual,
            }
        }
    }

    /// Reports a call's outcome; `failed` is `true` only for transient failures.
    pub(crate) fn record(
        &self,
        permit: Permit,
        failed: bool,
        now: impl Fn() -> u64,
    ) -> Option<Transition> {
        if permit.trial {
            return self.record_trial(permit, failed, &now);
        }
        let word = self.load();
        if word.state() != CircuitState::Closed || word.generation() != permit.generation {
            return None; // admitted before the breaker moved on: stale
        }
        if !failed {
            if self.consecutive.load(Ordering::Relaxed) != 0 {
                self.consecutive.store(0, Ordering::Relaxed);
            }
            if let Some(window) = &self.window {
                window.record(now(), false);
            }
            return None;
        }
        let in_a_row = self.consecutive.fetch_add(1, Ordering::Relaxed) + 1;
        let threshold = u64::from(self.config.consecutive_failures());
        let mut trip = threshold != 0 && in_a_row >= threshold;
        if let (Some(window), Some(rate)) = (&self.window, self.config.failure_rate()) {
            let now = now();
            window.record(now, true);
            trip = trip || window.exceeds(now, rate, self.config.minimum_calls());
        }
        if !trip {
            return None;
        }
        self.swap(word, self.open_word(word.generation() + 1, now()))
            .ok()
            .map(|()| {
                self.reset_counts();
                Transition {
                    from: CircuitState::Closed,
                    to: CircuitState::Open,
                }
            })
    }

    /// Forgets the closed state's counts, so the next closed period starts from zero. Done by the one
    /// caller that opens the breaker and again by the one that closes it (a stale closed call may have
    /// slipped a count in between).
    fn reset_counts(&self) {
        self.consecutive.store(0, Ordering::Relaxed);
        if let Some(window) = &self.window {
            window.reset();
        }
    }

    fn record_trial(
        &self,
        permit: Permit,
        failed: bool,
        now: &impl Fn() -> u64,
    ) -> Option<Transition> {
        let mut word = self.load();
        loop {
            if word.state() != CircuitState::HalfOpen || word.generation() != permit.generation {
                return None;
            }
            let (admitted, succeeded) = word.trials();
            let (next, to) = if failed {
                (
                    self.open_word(word.generation() + 1, now()),
                    Some(CircuitState::Open),
                )
            } else if succeeded + 1 >= u64::from(self.config.half_open_calls()) {
                let closed = Word::new(CircuitState::Closed, word.generation() + 1, 0);
                (closed, Some(CircuitState::Closed))
            } else {
                (
                    Word::half_open(word.generation(), admitted, succeeded + 1),
                    None,
                )
            };
            match self.swap(word, next) {
                Ok(()) => {
                    if to == Some(CircuitState::Closed) {
                        self.reset_counts();
                    }
                    return to.map(|to| Transition {
                        from: CircuitState::HalfOpen,
                        to,
                    });
                }
                Err(actual) => word = actual,
            }
        }
    }

    /// Panics if the state word is not a valid state (loom tests).
    #[cfg(loom)]
    pub(crate) fn check_invariants(&self) {
        let word = self.load();
        assert_ne!(
            word.0 & super::word::STATE_MASK,
            super::word::STATE_MASK,
            "invalid state bits"
        );
        match word.state() {
            CircuitState::Closed => assert_eq!(word.payload(), 0),
            CircuitState::HalfOpen => {
                let (admitted, succeeded) = word.trials();
                assert!(admitted <= u64::from(self.config.half_open_calls()));
                assert!(
                    succeeded <= admitted && succeeded < u64::from(self.config.half_open_calls())
                );
            }
            CircuitState::Open => assert!(word.payload() > 0),
        }
    }

    fn open_word(&self, generation: u64, now: u64) -> Word {
        let until = now.saturating_add(nanos(self.config.open_duration()));
        // Round up so the breaker never half-opens before its open duration elapsed.
        let until_ms = until.div_ceil(NANOS_PER_MILLI).min((1 << 42) - 1);
        Word::new(CircuitState::Open, generation, until_ms)
    }
}
