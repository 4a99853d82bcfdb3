//! The middleware's error type and the one transient/permanent classification every layer uses.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use crate::step::{BoxError, StepError};

/// Whether a failure is transient (worth retrying, counts against a circuit breaker) or permanent
/// (a business "no": never retried, and a success as far as a breaker is concerned).
///
/// This is the single classification behind the executor's retry decision, the [`RetryLayer`]
/// and the [`CircuitBreakerLayer`]'s failure count. Implement it for your gateway's error type to wrap
/// gateway calls with [`CircuitBreakerLayer::call`] and friends.
///
/// [`RetryLayer`]: super::RetryLayer
/// [`CircuitBreakerLayer`]: super::CircuitBreakerLayer
/// [`CircuitBreakerLayer::call`]: super::CircuitBreakerLayer::call
pub trait Classify {
    /// `true` if the failure is worth retrying (a timeout, a dropped connection, a 503).
    fn is_transient(&self) -> bool;

    /// The minimum wait before a retry the failure asks for (an open breaker, an HTTP 429), if any.
    fn retry_after(&self) -> Option<Duration> {
        None
    }
}

impl Classify for StepError {
    fn is_transient(&self) -> bool {
        Self::is_transient(self)
    }

    fn retry_after(&self) -> Option<Duration> {
        Self::retry_after(self)
    }
}

/// I/O errors are infrastructure failures: always transient.
impl Classify for std::io::Error {
    fn is_transient(&self) -> bool {
        true
    }
}

/// A tokio timeout is transient.
impl Classify for tokio::time::error::Elapsed {
    fn is_transient(&self) -> bool {
        true
    }
}

/// A boxed error is classified by what it holds: a [`StepError`] or a [`MiddlewareError`] keeps its
/// kind, anything else counts as transient.
impl Classify for BoxError {
    fn is_transient(&self) -> bool {
        if let Some(step) = self.downcast_ref::<StepError>() {
            step.is_transient()
        } else {
            true
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        self.downcast_ref::<StepError>()
            .and_then(StepError::retry_after)
            .or_else(|| {
                self.downcast_ref::<MiddlewareError>()
                    .and_then(Classify::retry_after)
            })
    }
}

impl Classify for Infallible {
    fn is_transient(&self) -> bool {
        match *self {}
    }
}

/// The middleware's error: a rejection by one of the layers, or the wrapped call's own error.
///
/// Every rejection is transient. When a layer wraps a [`Step`](crate::Step) or a
/// [`Compensation`](crate::Compensation), rejections become [`StepError::transient`] (an open circuit
/// with [`StepError::with_retry_after`]) and keep this error as their `source()`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MiddlewareError<E = Infallible> {
    /// The circuit breaker is open (or half-open with all trial calls taken); the call was not made.
    #[error("circuit breaker {name:?} is open; retry in {retry_after:?}")]
    CircuitOpen {
        /// The breaker's name.
        name: Arc<str>,
        /// How long until the breaker lets a trial call through.
        retry_after: Duration,
    },
    /// The bulkhead had no free slot: its wait queue was full, or the wait timed out.
    #[error("bulkhead {name:?} is full ({max_concurrent} concurrent calls); waited {waited:?}")]
    BulkheadFull {
        /// The bulkhead's name.
        name: Arc<str>,
        /// Its concurrency limit.
        max_concurrent: usize,
        /// How long the call waited before it was rejected (zero if the wait queue was full).
        waited: Duration,
    },
    /// The call did not finish within the timeout.
    #[error("call timed out after {after:?}")]
    TimedOut {
        /// The timeout.
        after: Duration,
    },
    /// The wrapped call failed.
    #[error(transparent)]
    Inner(E),
}

impl<E> MiddlewareError<E> {
    /// `true` for every rejection, and for an [`Inner`](Self::Inner) error that is transient.
    #[must_use]
    pub fn is_transient(&self) -> bool
    where
        E: Classify,
    {
        Classify::is_transient(self)
    }

    /// `true` if a layer rejected the call (the wrapped call did not fail by itself).
    #[must_use]
    pub const fn is_rejection(&self) -> bool {
        !matches!(self, Self::Inner(_))
    }

    /// The wrapped call's error, or the rejection.
    ///
    /// # Errors
    /// The rejection, retyped without an inner error, if a layer rejected the call.
    pub fn into_inner(self) -> Result<E, MiddlewareError> {
        match self {
            Self::Inner(e) => Ok(e),
            Self::CircuitOpen { name, retry_after } => {
                Err(MiddlewareError::CircuitOpen { name, retry_after })
            }
            Self::BulkheadFull {
                name,
                max_concurrent,
                waited,
            } => Err(MiddlewareError::BulkheadFull {
                name,
                max_concurrent,
                waited,
            }),
            Self::TimedOut { after } => Err(MiddlewareError::TimedOut { after }),
        }
    }

    /// Converts to a [`StepError`]: rejections become transient step errors (an open circuit carries
    /// its `retry_after`), the inner error goes through `inner`.
    #[must_use]
    pub fn into_step_error_with(self, inner: impl FnOnce(E) -> StepError) -> StepError {
        match self.into_inner() {
            Ok(e) => inner(e),
            Err(rejection) => {
                let error = StepError::transient(rejection.to_string());
                let error = match rejection.retry_after() {
                    Some(delay) => error.with_retry_after(delay),
                    None => error,
                };
                error.with_source(rejection)
            }
        }
    }
}

impl<E> MiddlewareError<MiddlewareError<E>> {
    /// Merges the errors of two nested closure calls (`breaker.call(|| bulkhead.call(..))`).
    #[must_use]
    pub fn flatten(self) -> MiddlewareError<E> {
        match self.into_inner() {
            Ok(inner) => inner,
            Err(rejection) => rejection.map_inner(),
        }
    }
}

impl MiddlewareError {
    fn map_inner<E>(self) -> MiddlewareError<E> {
        match self {
            Self::CircuitOpen { name, retry_after } => {
                MiddlewareError::CircuitOpen { name, retry_after }
            }
            Self::BulkheadFull {
                name,
                max_concurrent,
                waited,
            } => MiddlewareError::BulkheadFull {
                name,
                max_concurrent,
                waited,
            },
            Self::TimedOut { after } => MiddlewareError::TimedOut { after },
            Self::Inner(never) => match never {},
        }
    }
}

impl<E: Classify> Classify for MiddlewareError<E> {
    fn is_transient(&self) -> bool {
        match self {
            Self::Inner(e) => e.is_transient(),
            Self::CircuitOpen { .. } | Self::BulkheadFull { .. } | Self::TimedOut { .. } => true,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Inner(e) => e.retry_after(),
            Self::CircuitOpen { retry_after, .. } => Some(*retry_after),
            Self::BulkheadFull { .. } | Self::TimedOut { .. } => None,
        }
    }
}

impl From<MiddlewareError<StepError>> for StepError {
    fn from(error: MiddlewareError<StepError>) -> Self {
        error.into_step_error_with(|e| e)
    }
}
