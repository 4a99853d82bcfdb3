#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod acker;
mod config;
mod connection;
mod delay;
mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod names;
mod publisher;
mod secret;
mod shared;
mod subscription;
mod topology;
mod transport;
mod wire;

pub use config::{validate_prefix, AmqpConfig, QueueType, MAX_CONFIRM_WINDOW, MAX_PREFIX_LEN};
pub use error::{is_transient, Error, Result};
pub use secret::redact_url;
pub use transport::AmqpTransport;

/// Re-exported so users need no separate `lapin` dependency for its errors.
pub use lapin;
