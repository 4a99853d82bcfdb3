//! The breaker's state word: `payload (42 bits) | generation (20 bits) | state (2 bits)` in one `u64`.
//!
//! Open: the payload is the end of the open period in milliseconds on the breaker's clock. Half-open:
//! it is `succeeded (21 bits) | admitted (21 bits)` for the trial calls. Closed: it is zero.

use super::CircuitState;

pub(crate) const MAX_TRIALS: u32 = (1 << 21) - 1;
pub(super) const STATE_MASK: u64 = 0b11;
const GEN_SHIFT: u32 = 2;
const GEN_MASK: u64 = (1 << 20) - 1;
const PAYLOAD_SHIFT: u32 = 22;
const TRIAL_BITS: u32 = 21;
const TRIAL_MASK: u64 = (1 << TRIAL_BITS) - 1;
pub(super) const NANOS_PER_MILLI: u64 = 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Word(pub(super) u64);

impl Word {
    pub(super) fn new(state: CircuitState, generation: u64, payload: u64) -> Self {
        let state = match state {
            CircuitState::Closed => 0,
            CircuitState::Open => 1,
            CircuitState::HalfOpen => 2,
        };
        Self((payload << PAYLOAD_SHIFT) | ((generation & GEN_MASK) << GEN_SHIFT) | state)
    }

    pub(super) fn state(self) -> CircuitState {
        match self.0 & STATE_MASK {
            0 => CircuitState::Closed,
            1 => CircuitState::Open,
            _ => CircuitState::HalfOpen,
        }
    }

    pub(super) fn generation(self) -> u64 {
        (self.0 >> GEN_SHIFT) & GEN_MASK
    }

    pub(super) fn payload(self) -> u64 {
        self.0 >> PAYLOAD_SHIFT
    }

    /// Half-open: `(admitted, succeeded)` trial calls.
    pub(super) fn trials(self) -> (u64, u64) {
        (
            self.payload() & TRIAL_MASK,
            (self.payload() >> TRIAL_BITS) & TRIAL_MASK,
        )
    }

    pub(super) fn half_open(generation: u64, admitted: u64, succeeded: u64) -> Self {
        Self::new(
            CircuitState::HalfOpen,
            generation,
            (succeeded << TRIAL_BITS) | admitted,
        )
    }
}
