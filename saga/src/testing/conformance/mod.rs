//! Shared conformance suites: every [`SagaLog`](crate::SagaLog) and every transport implementation runs
//! the same checks, so the in-memory backends and the real ones are held to one contract.

pub mod log;
pub mod transport;
