//! Middleware for steps and for any async call: circuit breaker, bulkhead, retry, timeout.
//!
//! Each middleware is a `FooLayer` that holds its configuration and shared state (clones share it: one
//! breaker, one bulkhead semaphore) and a `Foo<S>` made by [`tower_layer::Layer::layer`] that
//! implements [`Step`](crate::Step) and [`Compensation`](crate::Compensation) when `S` does. Every
//! layer also has a closure API for calls inside a participant:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use saga::middleware::CircuitBreakerLayer;
//! let breaker = CircuitBreakerLayer::default();
//! let label = breaker.call(|| async { Ok::<_, std::io::Error>("label-123") }).await;
//! assert_eq!(label.ok(), Some("label-123"));
//! # }
//! ```
//!
//! # Errors
//!
//! Closure calls return [`MiddlewareError<E>`]: a rejection (`CircuitOpen`, `BulkheadFull`,
//! `TimedOut`, all transient) or `Inner(E)`, the call's own error. Nested closure calls give
//! `MiddlewareError<MiddlewareError<E>>`; [`MiddlewareError::flatten`] merges them. Wrapped steps
//! return [`StepError`](crate::StepError)s: a rejection becomes a transient one (an open circuit's with
//! `retry_after`, which the executor honours as a floor on its backoff). Which failures are transient
//! is decided by one trait, [`Classify`], for the breaker's count and for retries alike.
//!
//! # Order
//!
//! In a [`MiddlewareBuilder`], as in tower's `ServiceBuilder` and in `tower_layer`'s tuple layers,
//! **the first layer added is the outermost**: a call enters the layers top to bottom and the result
//! leaves bottom to top.
//!
//! ```text
//! MiddlewareBuilder::new()
//!     .layer(RetryLayer::new(policy))      // 1st: each retry goes through everything below
//!     .layer(breaker.clone())              // 2nd: counts each attempt, fails fast when open
//!     .layer(bulkhead.clone())             // 3rd: an open breaker never takes a bulkhead slot
//!     .layer(TimeoutLayer::new(limit))     // 4th: bounds each attempt; a hang counts as a failure
//!     .service(step)
//! ```
//!
//! This is the recommended order. Put the timeout outside the retry instead and it bounds all attempts
//! together; put the breaker outside the retry and it counts a whole retried sequence as one call.
//! The order is pinned by the tests in `middleware::tests::order`.
//!
//! # Performance
//!
//! The breaker's state is one atomic word, and a closed breaker costs an atomic load on the way in and
//! one or two atomic updates on the way out (see `docs/benchmarks.md`, "Middleware", for figures).

mod breaker;
mod builder;
mod bulkhead;
mod error;
mod retry;
mod sync;
#[cfg(all(test, not(loom)))]
mod tests;
mod timeout;

pub use breaker::{CircuitBreaker, CircuitBreakerConfig, CircuitBreakerLayer, CircuitState};
pub use builder::MiddlewareBuilder;
pub use bulkhead::{Bulkhead, BulkheadConfig, BulkheadLayer};
pub use error::{Classify, MiddlewareError};
pub use retry::{Retry, RetryLayer};
pub use timeout::{Timeout, TimeoutLayer};
