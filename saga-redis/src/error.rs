//! The crate's error type and the classification of redis-rs errors into transient and permanent.

use redis::{ErrorKind, RedisError, ServerErrorKind};
use saga::LogError;

/// The backend name in [`LogError::Backend`].
pub(crate) const BACKEND: &str = "redis";

/// Errors of `saga-redis` outside the [`SagaLog`](saga::SagaLog) calls (which return [`LogError`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The key prefix is not 1 to 48 characters of `[a-z0-9_:-]`.
    #[error("invalid key prefix {prefix:?}: expected 1 to 48 characters of [a-z0-9_:-]")]
    InvalidKeyPrefix {
        /// The rejected prefix (truncated).
        prefix: String,
    },
    /// A setting is out of range.
    #[error("invalid setting {setting}: {reason}")]
    InvalidConfig {
        /// Which setting.
        setting: &'static str,
        /// What is allowed.
        reason: &'static str,
    },
    /// Connecting failed. `url` has its password redacted.
    #[error("cannot connect to redis at {url}: {message}")]
    Connect {
        /// The URL with its password replaced by `***`.
        url: String,
        /// redis-rs's message, credentials removed.
        message: String,
        /// Whether retrying may succeed (the server was unreachable, loading or failing over).
        transient: bool,
        /// redis-rs's error.
        #[source]
        source: RedisError,
    },
    /// The prefix was created with another shard count: the keys of its sagas would not be found.
    #[error(
        "key prefix {prefix:?} holds sagas in {stored} shards, this log is configured with {configured}"
    )]
    ShardCountMismatch {
        /// The prefix.
        prefix: String,
        /// The count recorded in `<prefix>:meta`.
        stored: String,
        /// The count of the configuration.
        configured: u16,
    },
    /// A command failed (outside the saga log contract, e.g. in [`delete_all`]).
    ///
    /// [`delete_all`]: crate::RedisSagaLog::delete_all
    #[error("redis error: {message}")]
    Redis {
        /// What failed, credentials removed.
        message: String,
        /// Whether retrying may succeed.
        transient: bool,
        /// redis-rs's error.
        #[source]
        source: RedisError,
    },
}

impl Error {
    /// Whether retrying the same call may succeed.
    #[must_use]
    pub const fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Connect {
                transient: true,
                ..
            } | Self::Redis {
                transient: true,
                ..
            }
        )
    }

    pub(crate) fn redis(source: RedisError) -> Self {
        Self::Redis {
            message: source.to_string(),
            transient: is_transient(&source),
            source,
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Whether a redis-rs error is worth retrying: I/O errors, timeouts and dropped connections (the
/// `ConnectionManager` reconnects behind them), and the server's `LOADING`, `TRYAGAIN`,
/// `CLUSTERDOWN`, `MASTERDOWN`, `READONLY` (a failover in progress) and `BUSY` (a script runs).
#[must_use]
pub fn is_transient(error: &RedisError) -> bool {
    if error.is_io_error()
        || error.is_timeout()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
    {
        return true;
    }
    match error.kind() {
        ErrorKind::Server(
            ServerErrorKind::BusyLoading
            | ServerErrorKind::TryAgain
            | ServerErrorKind::ClusterDown
            | ServerErrorKind::MasterDown
            | ServerErrorKind::ReadOnly,
        ) => true,
        _ => error.code() == Some("BUSY"),
    }
}

/// Maps a redis-rs error to the [`LogError::Backend`] of the saga log contract.
pub(crate) fn log_error(error: RedisError) -> LogError {
    LogError::Backend {
        backend: BACKEND,
        message: error.to_string(),
        transient: is_transient(&error),
        source: Some(Box::new(error)),
    }
}

/// A reply the scripts never give (a bug or a server that is not Redis): permanent.
pub(crate) fn protocol(message: impl Into<String>) -> LogError {
    LogError::Backend {
        backend: BACKEND,
        message: message.into(),
        transient: false,
        source: None,
    }
}

/// A stored value that does not decode.
pub(crate) fn corrupt(saga_id: saga::SagaId, message: impl Into<String>) -> LogError {
    LogError::Corrupt {
        saga_id,
        message: message.into(),
    }
}

/// Maps a redis-rs error of the transport to a [`TransportError`](saga::transport::TransportError):
/// dropped or refused connections and I/O errors are `Connection`, timeouts `Timeout`, anything else
/// `Backend` with [`is_transient`]'s classification. `what` names the operation; the message is
/// scrubbed of the URL's password.
pub(crate) fn transport_error(
    error: RedisError,
    what: &'static str,
    url: &crate::secret::SecretUrl,
) -> saga::transport::TransportError {
    use saga::transport::TransportError;
    if error.is_timeout() {
        return TransportError::Timeout { operation: what };
    }
    let message = format!("{what}: {}", url.scrub(&error.to_string()));
    if error.is_io_error() || error.is_connection_dropped() || error.is_connection_refusal() {
        return TransportError::Connection {
            message,
            source: Some(Box::new(error)),
        };
    }
    TransportError::Backend {
        message,
        transient: is_transient(&error),
        source: Some(Box::new(error)),
    }
}
