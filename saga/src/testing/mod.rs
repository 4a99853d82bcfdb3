//! Test helpers: fault-injecting logs and transports (lost connections included), and the shared
//! conformance suites that every backend runs.

pub mod conformance;
mod crash_log;
mod disconnecting;
pub mod faulty_transport;

pub use crash_log::{CrashPoint, CrashingLog};
pub use disconnecting::{ConnectionStats, DisconnectingTransport, Outage};
