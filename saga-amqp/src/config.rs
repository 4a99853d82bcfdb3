//! Configuration of the RabbitMQ transport: [`AmqpConfig`], [`QueueType`] and the validation of name
//! prefixes.

use std::time::Duration;

use saga::transport::DEFAULT_MAX_MESSAGE_SIZE;

use crate::error::{Error, Result};

/// The longest exchange/queue name prefix accepted, in bytes.
pub const MAX_PREFIX_LEN: usize = 32;

/// The most messages one publisher may have waiting for their confirms (the confirm window).
pub const MAX_CONFIRM_WINDOW: usize = 65_535;

/// The kind of queue each group gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum QueueType {
    /// Replicated Raft queues (`x-queue-type: quorum`): exact delivery counts (`x-delivery-count`) and
    /// a broker-side delivery limit (`x-delivery-limit`). The default.
    Quorum,
    /// Classic queues: only a `redelivered` flag (counts are "at least"), no broker-side limit.
    Classic,
}

impl QueueType {
    /// `"quorum"` or `"classic"`, the value of `x-queue-type`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Quorum => "quorum",
            Self::Classic => "classic",
        }
    }
}

/// Settings of an [`AmqpTransport`](crate::AmqpTransport), built with `with_*` methods.
///
/// ```
/// use std::time::Duration;
/// use saga_amqp::{AmqpConfig, QueueType};
/// let config = AmqpConfig::default()
///     .with_prefix("shop")
///     .with_prefetch(32)
///     .with_queue_type(QueueType::Quorum)
///     .with_delivery_limit(10);
/// assert!(config.validate().is_ok());
/// assert!(AmqpConfig::default().with_prefix("Shop").validate().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AmqpConfig {
    pub(crate) prefix: String,
    pub(crate) prefetch: u16,
    pub(crate) confirm_window: usize,
    pub(crate) queue_type: QueueType,
    pub(crate) delivery_limit: u32,
    pub(crate) max_message_size: usize,
    pub(crate) connect_timeout: Duration,
    pub(crate) min_backoff: Duration,
    pub(crate) max_backoff: Duration,
}

impl Default for AmqpConfig {
    /// Prefix `saga`, prefetch 64, 1024 unconfirmed publishes, quorum queues, dead-letter after 20
    /// deliveries, 1 MiB messages, 5 s connect timeout, reconnect backoff from 100 ms doubling to 5 s.
    fn default() -> Self {
        Self {
            prefix: "saga".to_owned(),
            prefetch: 64,
            confirm_window: 1024,
            queue_type: QueueType::Quorum,
            delivery_limit: 20,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            connect_timeout: Duration::from_secs(5),
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        }
    }
}

impl AmqpConfig {
    /// The first part of every exchange and queue name (`<prefix>.topics`, `<prefix>.<topic>/<group>`).
    /// 1 to [`MAX_PREFIX_LEN`] characters of `[a-z0-9_.-]`; transports with different prefixes never
    /// see each other's messages.
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How many unacknowledged deliveries one subscription may hold (`basic.qos`, per consumer);
    /// 1 to 65535.
    #[must_use]
    pub const fn with_prefetch(mut self, prefetch: u16) -> Self {
        self.prefetch = prefetch;
        self
    }

    /// How many publishes may wait for their broker confirms at once (more wait for a slot);
    /// 1 to [`MAX_CONFIRM_WINDOW`].
    #[must_use]
    pub const fn with_confirm_window(mut self, window: usize) -> Self {
        self.confirm_window = window;
        self
    }

    /// Quorum (default) or classic queues for the groups, their dead letters and the delay levels.
    #[must_use]
    pub const fn with_queue_type(mut self, queue_type: QueueType) -> Self {
        self.queue_type = queue_type;
        self
    }

    /// A message delivered more often than this is dead-lettered by the transport with the reason
    /// `delivery limit of N exceeded` (at least 1). On quorum queues the broker enforces it too
    /// (`x-delivery-limit`), for consumers that die before they can look.
    #[must_use]
    pub const fn with_delivery_limit(mut self, deliveries: u32) -> Self {
        self.delivery_limit = deliveries;
        self
    }

    /// The largest message, headers included ([`Message::size`](saga::Message::size)), published or
    /// accepted on receipt (larger received ones are dead-lettered before their headers are decoded).
    #[must_use]
    pub const fn with_max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// How long one connection attempt may take.
    #[must_use]
    pub const fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The reconnect backoff: the first retry after `min`, doubling (with jitter) up to `max`.
    #[must_use]
    pub const fn with_reconnect_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.min_backoff = min;
        self.max_backoff = max;
        self
    }

    /// The name prefix.
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The prefetch per subscription.
    #[must_use]
    pub const fn prefetch(&self) -> u16 {
        self.prefetch
    }

    /// The confirm window.
    #[must_use]
    pub const fn confirm_window(&self) -> usize {
        self.confirm_window
    }

    /// The queue type.
    #[must_use]
    pub const fn queue_type(&self) -> QueueType {
        self.queue_type
    }

    /// The delivery limit.
    #[must_use]
    pub const fn delivery_limit(&self) -> u32 {
        self.delivery_limit
    }

    /// The message size limit.
    #[must_use]
    pub const fn max_message_size(&self) -> usize {
        self.max_message_size
    }

    /// Checks every setting.
    ///
    /// # Errors
    /// [`Error::InvalidPrefix`], [`Error::InvalidConfig`].
    pub fn validate(&self) -> Result<()> {
        validate_prefix(&self.prefix)?;
        let invalid = |setting, reason| Err(Error::InvalidConfig { setting, reason });
        if self.prefetch == 0 {
            return invalid("prefetch", "must be at least 1");
        }
        if self.confirm_window == 0 || self.confirm_window > MAX_CONFIRM_WINDOW {
            return invalid("confirm_window", "must be between 1 and 65535");
        }
        if self.delivery_limit == 0 {
            return invalid("delivery_limit", "must be at least 1");
        }
        if self.max_message_size == 0 {
            return invalid("max_message_size", "must be at least 1 byte");
        }
        if self.connect_timeout.is_zero() {
            return invalid("connect_timeout", "must not be zero");
        }
        if self.min_backoff.is_zero() || self.max_backoff < self.min_backoff {
            return invalid("reconnect_backoff", "needs 0 < min <= max");
        }
        Ok(())
    }
}

/// Checks that `prefix` is 1 to [`MAX_PREFIX_LEN`] characters of `[a-z0-9_.-]`.
///
/// Lower case only, nothing a shell or the management UI would need quoted, no `/` (it separates topic
/// and group in queue names), no `*` or `#` (topic-exchange wildcards).
///
/// # Errors
/// [`Error::InvalidPrefix`].
pub fn validate_prefix(prefix: &str) -> Result<()> {
    let ok = !prefix.is_empty()
        && prefix.len() <= MAX_PREFIX_LEN
        && prefix
            .bytes()
            .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidPrefix {
            prefix: prefix.chars().take(MAX_PREFIX_LEN + 8).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_lower_case_names() {
        for ok in [
            "saga",
            "shop.orders",
            "a-b_c.1",
            &"a".repeat(MAX_PREFIX_LEN),
        ] {
            assert!(validate_prefix(ok).is_ok(), "{ok:?} is valid");
        }
        for bad in [
            "",
            "Saga",
            "a/b",
            "a*",
            "a#",
            "a b",
            "é",
            "x\n",
            &"a".repeat(MAX_PREFIX_LEN + 1),
        ] {
            assert!(
                matches!(validate_prefix(bad), Err(Error::InvalidPrefix { .. })),
                "{bad:?} is rejected"
            );
        }
    }

    #[test]
    fn settings_are_checked() {
        let c = AmqpConfig::default();
        assert!(c.validate().is_ok());
        assert!(c.clone().with_prefetch(0).validate().is_err());
        assert!(c.clone().with_confirm_window(0).validate().is_err());
        assert!(c.clone().with_confirm_window(70_000).validate().is_err());
        assert!(c.clone().with_delivery_limit(0).validate().is_err());
        assert!(c.clone().with_max_message_size(0).validate().is_err());
        assert!(c
            .clone()
            .with_connect_timeout(Duration::ZERO)
            .validate()
            .is_err());
        let (a, b) = (Duration::from_secs(2), Duration::from_secs(1));
        assert!(c.clone().with_reconnect_backoff(a, b).validate().is_err());
        assert!(c.with_reconnect_backoff(b, a).validate().is_ok());
    }
}
