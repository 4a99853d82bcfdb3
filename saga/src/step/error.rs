//! The typed errors of steps and compensations.

use std::borrow::Cow;
use std::time::Duration;

/// A boxed error that can cross threads, kept as the `source` of a [`StepError`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// How a step failed, which decides what the executor does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StepErrorKind {
    /// Worth retrying: a timeout, a dropped connection, an open circuit, a full bulkhead.
    /// Retried per the step's [`RetryPolicy`](crate::RetryPolicy); when the budget runs out the outcome
    /// is unknown and the step is compensated.
    Transient,
    /// The business said no (out of stock, card declined). Not retried; compensation starts with the
    /// steps before this one: a permanent error promises the step had no effect.
    Permanent,
}

/// The error a [`Step`](super::Step) or [`Compensation`](super::Compensation) returns.
///
/// Control flow is typed: the executor looks only at [`kind`](Self::kind) and
/// [`retry_after`](Self::retry_after), never at the message.
#[derive(Debug, thiserror::Error)]
#[error("{kind_str} step error: {message}", kind_str = self.kind_str())]
pub struct StepError {
    kind: StepErrorKind,
    message: Cow<'static, str>,
    retry_after: Option<Duration>,
    #[source]
    source: Option<BoxError>,
}

impl StepError {
    /// A failure worth retrying.
    #[must_use]
    pub fn transient(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StepErrorKind::Transient, message)
    }

    /// A business refusal: compensate, do not retry.
    #[must_use]
    pub fn permanent(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StepErrorKind::Permanent, message)
    }

    /// An error of the given kind.
    #[must_use]
    pub fn new(kind: StepErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind,
            message: message.into(),
            retry_after: None,
            source: None,
        }
    }

    /// Keeps the underlying error as this error's `source()`.
    #[must_use]
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Asks the executor to wait at least this long before the next attempt (an open breaker's
    /// `retry_after`, an HTTP 429's `Retry-After`).
    #[must_use]
    pub fn with_retry_after(mut self, delay: Duration) -> Self {
        self.retry_after = Some(delay);
        self
    }

    /// Transient or permanent.
    #[must_use]
    pub const fn kind(&self) -> StepErrorKind {
        self.kind
    }

    /// `true` for [`StepErrorKind::Transient`].
    #[must_use]
    pub const fn is_transient(&self) -> bool {
        matches!(self.kind, StepErrorKind::Transient)
    }

    /// The human-readable message.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The minimum delay before a retry, if the failing service asked for one.
    #[must_use]
    pub const fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    fn kind_str(&self) -> &'static str {
        match self.kind {
            StepErrorKind::Transient => "transient",
            StepErrorKind::Permanent => "permanent",
        }
    }
}
