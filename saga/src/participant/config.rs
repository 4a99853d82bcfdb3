//! Configuration of participants and reply routers.

use std::time::Duration;

use crate::transport::DEFAULT_MAX_MESSAGE_SIZE;

/// Configuration of a [`Participant`](super::Participant).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ParticipantConfig {
    pub(crate) max_message_size: usize,
    pub(crate) concurrency: usize,
    pub(crate) max_deliveries: u32,
    pub(crate) claim_lease: Duration,
    pub(crate) retry_delay: Duration,
    pub(crate) command_topic: Option<String>,
}

impl Default for ParticipantConfig {
    /// 1 MiB messages, 64 messages in flight, dead-letter after 10 deliveries, 30 s claim lease, 100 ms
    /// before a failed message is redelivered, commands on the topic named after the participant.
    fn default() -> Self {
        Self {
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            concurrency: 64,
            max_deliveries: 10,
            claim_lease: Duration::from_secs(30),
            retry_delay: Duration::from_millis(100),
            command_topic: None,
        }
    }
}

impl ParticipantConfig {
    /// Messages larger than this, headers included ([`Message::size`]), are dead-lettered before
    /// anything in them is decoded or copied.
    ///
    /// [`Message::size`]: crate::transport::Message::size
    #[must_use]
    pub const fn with_max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// How many messages one participant handles at once (at least 1).
    #[must_use]
    pub fn with_concurrency(mut self, messages: usize) -> Self {
        self.concurrency = messages.max(1);
        self
    }

    /// A message delivered more often than this is dead-lettered instead of handled (at least 1).
    #[must_use]
    pub fn with_max_deliveries(mut self, deliveries: u32) -> Self {
        self.max_deliveries = deliveries.max(1);
        self
    }

    /// How long a claimed idempotency key stays claimed before another delivery may take it over (a
    /// handler running longer than this can be executed twice).
    #[must_use]
    pub const fn with_claim_lease(mut self, lease: Duration) -> Self {
        self.claim_lease = lease;
        self
    }

    /// How long to wait before giving back a message that failed transiently (an event handler's
    /// transient error without `retry_after`, a store or publish failure).
    #[must_use]
    pub const fn with_retry_delay(mut self, delay: Duration) -> Self {
        self.retry_delay = delay;
        self
    }

    /// The topic commands are consumed from (default: the participant's name).
    #[must_use]
    pub fn with_command_topic(mut self, topic: impl Into<String>) -> Self {
        self.command_topic = Some(topic.into());
        self
    }
}

/// Configuration of a [`ReplyRouter`](super::ReplyRouter).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RouterConfig {
    pub(crate) reply_topic: Option<String>,
    pub(crate) max_message_size: usize,
    pub(crate) timeout: Duration,
}

impl Default for RouterConfig {
    /// A unique reply topic `saga.replies.<uuid>`, 1 MiB replies, 30 s request timeout.
    fn default() -> Self {
        Self {
            reply_topic: None,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            timeout: Duration::from_secs(30),
        }
    }
}

impl RouterConfig {
    /// The topic this router's replies arrive on; it must be unique per orchestrator process.
    #[must_use]
    pub fn with_reply_topic(mut self, topic: impl Into<String>) -> Self {
        self.reply_topic = Some(topic.into());
        self
    }

    /// Replies larger than this, headers included ([`Message::size`]), are dead-lettered before anything
    /// in them is decoded or copied.
    ///
    /// [`Message::size`]: crate::transport::Message::size
    #[must_use]
    pub const fn with_max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// How long a request waits for its reply by default; a reply arriving later is dropped.
    #[must_use]
    pub const fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}
