//! The transport's one error type.

use crate::step::BoxError;

/// Errors of a [`Transport`](super::Transport), a [`Subscription`](super::Subscription) or a
/// [`Delivery`](super::Delivery) settlement.
///
/// Adapters keep the backend error as `source` and classify it with [`is_transient`](Self::is_transient),
/// the one classification retry loops and circuit breakers use. Adapters must never put connection URLs
/// with credentials into a message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The message (headers and payload, [`Message::size`](super::Message::size)) is larger than the
    /// configured limit; nothing was sent or decoded.
    #[error("message of {size} bytes exceeds the limit of {limit} bytes")]
    MessageTooLarge {
        /// Size of the message in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// A message (or header) could not be decoded; it is dead-lettered, never retried.
    #[error("malformed message: {reason}")]
    Malformed {
        /// What was wrong, for the log and the dead-letter record (at most
        /// [`MAX_BOUNDED_LEN`](super::MAX_BOUNDED_LEN) bytes when made by [`malformed`](Self::malformed)).
        reason: String,
    },
    /// The broker could not be reached or the connection dropped. Transient: reconnect and retry.
    #[error("transport connection failed: {message}")]
    Connection {
        /// What failed (never with credentials).
        message: String,
        /// The backend error.
        #[source]
        source: Option<BoxError>,
    },
    /// The transport was closed; no more messages are published or delivered.
    #[error("transport closed")]
    Closed,
    /// A broker operation did not complete in time. Transient.
    #[error("transport operation {operation} timed out")]
    Timeout {
        /// The operation, e.g. `"publish"`.
        operation: &'static str,
    },
    /// Any other backend failure, classified by the adapter.
    #[error("transport backend error: {message}")]
    Backend {
        /// What failed.
        message: String,
        /// Whether retrying may succeed.
        transient: bool,
        /// The backend error.
        #[source]
        source: Option<BoxError>,
    },
}

impl TransportError {
    /// A transient connection error without a source.
    #[must_use]
    pub fn connection(message: impl Into<String>) -> Self {
        Self::Connection {
            message: message.into(),
            source: None,
        }
    }

    /// A malformed-message error; the reason is [`bounded`](super::bounded), since it usually quotes
    /// the message.
    #[must_use]
    pub fn malformed(reason: impl std::fmt::Display) -> Self {
        Self::Malformed {
            reason: super::bounded(reason),
        }
    }

    /// `true` if retrying the operation may succeed (connection failures, timeouts, transient backend
    /// errors); `false` for oversized or malformed messages and a closed transport.
    #[must_use]
    pub const fn is_transient(&self) -> bool {
        match self {
            Self::Connection { .. } | Self::Timeout { .. } => true,
            Self::Backend { transient, .. } => *transient,
            Self::MessageTooLarge { .. } | Self::Malformed { .. } | Self::Closed => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_transience() {
        assert!(TransportError::connection("reset").is_transient());
        assert!(TransportError::Timeout {
            operation: "publish"
        }
        .is_transient());
        assert!(!TransportError::Closed.is_transient());
        assert!(!TransportError::malformed("bad").is_transient());
        assert!(!TransportError::MessageTooLarge { size: 2, limit: 1 }.is_transient());
    }
}
