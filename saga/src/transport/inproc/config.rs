//! Configuration of the in-process transport.

use tokio::sync::Semaphore;

use crate::transport::DEFAULT_MAX_MESSAGE_SIZE;

/// Configuration of an [`InProcTransport`](super::InProcTransport).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct InProcConfig {
    pub(super) max_message_size: usize,
    pub(super) capacity: usize,
    pub(super) max_deliveries: Option<u32>,
    pub(super) dead_letter_capacity: usize,
}

impl Default for InProcConfig {
    /// 1 MiB messages, 4096 unsettled messages per group, dead-lettered after 16 deliveries, the last
    /// 1024 dead letters kept.
    fn default() -> Self {
        Self {
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            capacity: 4096,
            max_deliveries: Some(16),
            dead_letter_capacity: 1024,
        }
    }
}

impl InProcConfig {
    /// The largest message `publish` accepts, headers included ([`Message::size`]); a larger one is
    /// refused before it is copied to any group.
    ///
    /// [`Message::size`]: crate::transport::Message::size
    #[must_use]
    pub const fn with_max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// How many messages a group holds (queued plus delivered but unsettled) before `publish` waits;
    /// at least 1.
    #[must_use]
    pub fn with_capacity(mut self, messages: usize) -> Self {
        self.capacity = messages.clamp(1, Semaphore::MAX_PERMITS);
        self
    }

    /// Dead-letters a message instead of delivering it more than this many times (like a RabbitMQ
    /// delivery limit or a Redis dead-letter threshold); `None` redelivers forever.
    #[must_use]
    pub const fn with_max_deliveries(mut self, deliveries: Option<u32>) -> Self {
        self.max_deliveries = deliveries;
        self
    }

    /// How many dead letters [`InProcTransport::dead_letters`](super::InProcTransport::dead_letters)
    /// keeps (default 1024): when a new one comes, the oldest is evicted and counted
    /// ([`evicted_dead_letters`](super::InProcTransport::evicted_dead_letters)). `0` keeps none. Every
    /// dead letter is still published to the dead-letter topic, whatever this is. The record holds whole
    /// messages, so its memory is bounded by this times the largest message size.
    #[must_use]
    pub const fn with_dead_letter_capacity(mut self, dead_letters: usize) -> Self {
        self.dead_letter_capacity = dead_letters;
        self
    }
}
