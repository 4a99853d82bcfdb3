//! Bulkhead: a cap on concurrent calls to one dependency, with a bounded, timed wait queue.
//!
//! Built on [`tokio::sync::Semaphore`] (fair, FIFO). A caller first tries to take a slot without
//! waiting; if none is free it joins the queue, unless `max_waiting` callers are already queued, and
//! waits at most `wait_timeout`. Rejections are [`MiddlewareError::BulkheadFull`](super::MiddlewareError),
//! which is transient. The slot is held until the wrapped call's future completes or is dropped.

mod config;
mod layer;
mod service;

pub use config::BulkheadConfig;
pub use layer::BulkheadLayer;
pub use service::Bulkhead;
