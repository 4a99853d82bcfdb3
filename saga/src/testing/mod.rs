//! Test helpers: fault-injecting logs and transports, and the shared conformance suites that every
//! backend runs.

pub mod conformance;
pub mod faulty_transport;
mod crash_log;

pub use crash_log::{CrashPoint, CrashingLog};
