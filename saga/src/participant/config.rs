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
    pub(crate) owner_id: Option<String>,
    pub(crate) reply_topic: Option<String>,
    pub(crate) max_message_size: usize,
    pub(crate) timeout: Duration,
    pub(crate) reply_expiry: Duration,
    pub(crate) early_replies: usize,
    pub(crate) early_bytes: usize,
    pub(crate) early_ttl: Duration,
}

impl Default for RouterConfig {
    /// A random owner id (replies do not survive a restart: set the executor's stable owner id with
    /// [`with_owner_id`](Self::with_owner_id)), 1 MiB replies, 30 s request timeout, a reply channel
    /// that expires after 1 day unused, up to 4096 early replies (16 MiB) kept for 10 minutes each.
    fn default() -> Self {
        Self {
            owner_id: None,
            reply_topic: None,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            timeout: Duration::from_secs(30),
            reply_expiry: Duration::from_secs(24 * 3600),
            early_replies: 4096,
            early_bytes: 16 * 1024 * 1024,
            early_ttl: Duration::from_secs(600),
        }
    }
}

impl RouterConfig {
    /// The stable id of the orchestrator (use the executor's
    /// [`ExecutorConfig::with_owner_id`](crate::ExecutorConfig::with_owner_id)): replies go to
    /// `saga.replies.<owner id>`, and a restarted orchestrator with the same id reads the replies sent
    /// while it was down. One live process per owner id.
    #[must_use]
    pub fn with_owner_id(mut self, owner_id: impl Into<String>) -> Self {
        self.owner_id = Some(owner_id.into());
        self
    }

    /// An explicit reply topic instead of `saga.replies.<owner id>`; it must be unique per orchestrator
    /// process and stable across its restarts.
    #[must_use]
    pub fn with_reply_topic(mut self, topic: impl Into<String>) -> Self {
        self.reply_topic = Some(topic.into());
        self
    }

    /// The reply topic (and group) this configuration uses.
    #[must_use]
    pub fn reply_topic(&self) -> String {
        match (&self.reply_topic, &self.owner_id) {
            (Some(topic), _) => topic.clone(),
            (None, Some(owner)) => format!("saga.replies.{owner}"),
            (None, None) => format!("saga.replies.{}", crate::transport::MessageId::new()),
        }
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

    /// How long the reply channel survives without a consumer (an orchestrator that never came back)
    /// before the broker removes it, on transports that support it.
    #[must_use]
    pub const fn with_reply_expiry(mut self, idle: Duration) -> Self {
        self.reply_expiry = idle;
        self
    }

    /// How many replies that arrived before their request (after a restart) are kept, at most how many
    /// bytes of them in all, and for how long each; a capacity of 0 keeps none.
    #[must_use]
    pub const fn with_early_replies(
        mut self,
        capacity: usize,
        bytes: usize,
        ttl: Duration,
    ) -> Self {
        self.early_replies = capacity;
        self.early_bytes = bytes;
        self.early_ttl = ttl;
        self
    }
}
