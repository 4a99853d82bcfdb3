//! The atomics the circuit breaker's state machine is built on.
//!
//! Normally these are `std`'s. Built with `RUSTFLAGS="--cfg loom"`, they come from
//! [`loom`](https://docs.rs/loom) instead, so the loom tests in `breaker::loom` can explore every
//! interleaving of concurrent admissions and outcomes:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
//!     cargo test -p saga-core --release --lib middleware::breaker::loom
//! ```
//!
//! Only the breaker's lock-free core goes through this shim; the bulkhead relies on tokio's semaphore,
//! which tokio tests with loom itself.

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU64, Ordering};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU64, Ordering};
