#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod config;
mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod log;
mod secret;
mod stats;
mod transport;

pub use config::{validate_prefix, RedisLogConfig, MAX_PREFIX_LEN, MAX_SHARDS};
pub use error::{is_transient, Error, Result};
pub use log::RedisSagaLog;
pub use secret::redact_url;
pub use stats::RedisLogStats;
pub use transport::{RedisDeadLetter, RedisTransport, RedisTransportConfig, RedisTransportStats};

/// Re-exported so users need no separate `redis` dependency for URLs and errors.
pub use redis;
