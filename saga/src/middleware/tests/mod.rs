//! Tests of the middleware on tokio's paused clock.

mod breaker;
mod bulkhead;
mod closures;
mod order;
mod saga;
mod support;
