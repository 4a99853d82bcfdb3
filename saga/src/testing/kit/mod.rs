//! The test kit for steps (feature `test-util`): scripted steps, the journal of their calls with
//! assertions over it, and gates to race a cancel or a deadline against a step in flight. See the
//! [`testing`](super) module for an example.

mod assertions;
mod gate;
mod journal;
mod scripted;

pub use gate::Gate;
pub use journal::{Call, CallOutcome, Journal, Recording};
pub use scripted::ScriptedStep;
