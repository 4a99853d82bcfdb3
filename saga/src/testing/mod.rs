//! Test helpers: fault-injecting logs and transports (lost connections included), the shared
//! conformance suites that every backend runs, and (with the `test-util` feature) the fault scenarios
//! every durable log runs: the `crash_matrix` and the `survivor` scenario.

mod captured_logs;
pub mod conformance;
mod crash_log;
#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub mod crash_matrix;
mod disconnecting;
pub mod faulty_transport;
pub mod forgery;
pub mod fuzz;
pub mod lease_race;
mod scale;
#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub mod survivor;

pub use captured_logs::CapturedLogs;
pub use crash_log::{CrashPoint, CrashingLog};
pub use disconnecting::{ConnectionStats, DisconnectingTransport, Outage};
pub use scale::fault_scale;
