//! Test helpers: fault-injecting logs and transports, and the shared conformance suites that every
//! backend runs.

pub mod conformance;
mod crash_log;
pub mod faulty_transport;

pub use crash_log::{CrashPoint, CrashingLog};
