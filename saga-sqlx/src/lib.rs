#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod batch;
mod claim;
mod config;
mod detach;
mod error;
mod group_commit;
mod inbox;
mod log_core;
mod migrate;
mod rows;
mod schema;
mod secret;
mod stats;

#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use batch::{BatchWrite, OwnedAppend, WriteOp, WriteResult};
pub use config::SqlLogConfig;
pub use error::{is_transient, Error, Result};
pub use group_commit::{GroupCommitConfig, GroupCommitLog};
pub use inbox::{Inbox, InboxOutcome};
pub use saga::log::BatchingConfig;
pub use secret::redact_url;
pub use stats::SqlLogStats;

#[cfg(feature = "mysql")]
pub use mysql::MySqlSagaLog;
#[cfg(feature = "postgres")]
pub use postgres::PostgresSagaLog;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteSagaLog;

/// Re-exported so users need no separate `sqlx` dependency for pools and transactions.
pub use sqlx;
