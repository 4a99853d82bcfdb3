//! Test helpers: fault-injecting logs and transports, and the shared conformance suites that every
//! backend runs.

pub mod conformance;
