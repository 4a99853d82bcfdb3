//! The crate's error type, and the classification of lapin errors into transient and permanent.

use lapin::protocol::{AMQPErrorKind, AMQPHardError, AMQPSoftError};
use lapin::ErrorKind;
use saga::transport::{bounded, TransportError};

/// Errors of `saga-amqp` outside the [`Transport`](saga::Transport) calls (which return
/// [`TransportError`]): configuration and connecting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The name prefix is not 1 to 32 characters of `[a-z0-9_.-]`.
    #[error("invalid name prefix {prefix:?}: expected 1 to 32 characters of [a-z0-9_.-]")]
    InvalidPrefix {
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
    /// Connecting (or declaring the exchanges on the new connection) failed. `url` has its password
    /// redacted.
    #[error("cannot connect to rabbitmq at {url}: {message}")]
    Connect {
        /// The URL with its password replaced by `***`.
        url: String,
        /// What failed, credentials removed.
        message: String,
        /// Whether retrying may succeed (the broker was unreachable or restarting).
        transient: bool,
        /// lapin's error (`None` for a timeout).
        #[source]
        source: Option<Box<lapin::Error>>,
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
            }
        )
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Whether a lapin error is worth retrying: I/O errors, a missed heartbeat, a closed channel or
/// connection (the transport reconnects behind it), and broker errors that a reconnect or re-declare
/// can cure (`CONNECTION_FORCED` on a broker shutdown, `NOT_FOUND` for topology deleted under us,
/// `RESOURCE_LOCKED`, `RESOURCE_ERROR`, `INTERNAL_ERROR`). Access refused, precondition failed
/// (a queue declared with other arguments), frame and syntax errors are permanent.
#[must_use]
pub fn is_transient(error: &lapin::Error) -> bool {
    match error.kind() {
        ErrorKind::IOError(_)
        | ErrorKind::MissingHeartbeatError
        | ErrorKind::InvalidChannelState(..)
        | ErrorKind::InvalidConnectionState(_)
        | ErrorKind::InvalidChannel(_)
        | ErrorKind::ChannelsLimitReached => true,
        ErrorKind::ProtocolError(e) => match e.kind() {
            AMQPErrorKind::Soft(soft) => matches!(
                soft,
                AMQPSoftError::NOTFOUND | AMQPSoftError::RESOURCELOCKED
            ),
            AMQPErrorKind::Hard(hard) => matches!(
                hard,
                AMQPHardError::CONNECTIONFORCED
                    | AMQPHardError::RESOURCEERROR
                    | AMQPHardError::INTERNALERROR
                    | AMQPHardError::CHANNELERROR
            ),
        },
        _ => false,
    }
}

/// Maps a lapin error of operation `op` to the transport contract's error: a lost connection or
/// channel is [`TransportError::Connection`], anything else [`TransportError::Backend`] with its
/// classification. Messages are bounded and never carry the URL.
pub(crate) fn transport_error(op: &str, error: lapin::Error) -> TransportError {
    let message = bounded(format_args!("{op}: {error}"));
    if is_transient(&error) && !error.is_amqp_soft_error() {
        TransportError::Connection {
            message,
            source: Some(Box::new(error)),
        }
    } else {
        TransportError::Backend {
            message,
            transient: is_transient(&error),
            source: Some(Box::new(error)),
        }
    }
}

/// How long one broker operation (opening a channel, a declaration, an ack) may take. lapin resolves
/// some of them only once the frame is written, and a frame handed to a connection whose I/O loop has
/// just died is never written: without this bound, a settlement during a broker restart could wait
/// forever.
pub(crate) const OP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs the lapin operation `op` within [`OP_TIMEOUT`], mapping its error with [`transport_error`].
pub(crate) async fn within<T>(
    op: &'static str,
    fut: impl std::future::Future<Output = lapin::Result<T>>,
) -> Result<T, TransportError> {
    match tokio::time::timeout(OP_TIMEOUT, fut).await {
        Ok(result) => result.map_err(|e| transport_error(op, e)),
        Err(_) => Err(TransportError::Timeout { operation: op }),
    }
}

/// A permanent backend error without a source (a name the broker cannot take).
pub(crate) fn refused(message: impl std::fmt::Display) -> TransportError {
    TransportError::Backend {
        message: bounded(message),
        transient: false,
        source: None,
    }
}

/// A transient backend error without a source (a returned or nacked publish).
pub(crate) fn transient(message: impl std::fmt::Display) -> TransportError {
    TransportError::Backend {
        message: bounded(message),
        transient: true,
        source: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_are_transient_connection_losses() {
        let io: lapin::Error =
            std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset").into();
        assert!(is_transient(&io));
        let e = transport_error("publish", io);
        assert!(matches!(e, TransportError::Connection { .. }), "{e:?}");
        assert!(e.is_transient());
    }

    #[test]
    fn config_errors_are_permanent() {
        let e = Error::InvalidConfig {
            setting: "prefetch",
            reason: "must be at least 1",
        };
        assert!(!e.is_transient());
        assert!(!refused("no").is_transient());
        assert!(transient("again").is_transient());
    }
}
