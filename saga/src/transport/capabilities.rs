//! What a transport declares about itself, so the runtime and the conformance suite adapt to it instead
//! of being told by the caller.

/// How precisely a transport counts deliveries (see [`DeliveryCount`](super::DeliveryCount)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CountPrecision {
    /// Every delivery carries its exact count (in-process, Redis `XPENDING`, quorum queues'
    /// `x-delivery-count`).
    Exact,
    /// A lower bound only (classic AMQP queues: `redelivered` means "at least the second").
    AtLeast,
    /// Nothing is known.
    Unknown,
}

/// What a [`Transport`](super::Transport) can do, as it declares it in
/// [`capabilities`](super::Transport::capabilities).
///
/// The participant runtime reads it (e.g. to count deliveries itself where the broker does not) and the
/// conformance suite picks its checks from it. Built by adapters with [`new`](Self::new) and the `with_*`
/// methods; every flag defaults to the weakest promise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// The largest message, headers included ([`Message::size`](super::Message::size)), it publishes.
    pub max_message_size: usize,
    /// One publisher's messages to one topic reach each group in publish order (while nothing is
    /// redelivered).
    pub per_topic_ordering: bool,
    /// `requeue` with a delay is done by the broker (a delayed queue, a scheduled set); without it the
    /// adapter keeps the delay itself, still never holding a consumer slot or prefetch credit.
    pub native_delay: bool,
    /// The broker dead-letters a message by itself after its own delivery limit (quorum queues'
    /// `x-delivery-limit`), so poison messages stop even where counts are imprecise.
    pub native_dead_letter: bool,
    /// How deliveries are counted.
    pub delivery_count: CountPrecision,
    /// A group subscribed with [`SubscribeOptions::with_expiry`] disappears by itself once unused.
    pub group_expiry: bool,
}

impl Capabilities {
    /// The weakest promises, with this message size limit.
    #[must_use]
    pub const fn new(max_message_size: usize) -> Self {
        Self {
            max_message_size,
            per_topic_ordering: false,
            native_delay: false,
            native_dead_letter: false,
            delivery_count: CountPrecision::Unknown,
            group_expiry: false,
        }
    }

    /// Declares per-topic ordering.
    #[must_use]
    pub const fn with_per_topic_ordering(mut self, yes: bool) -> Self {
        self.per_topic_ordering = yes;
        self
    }

    /// Declares broker-side delays.
    #[must_use]
    pub const fn with_native_delay(mut self, yes: bool) -> Self {
        self.native_delay = yes;
        self
    }

    /// Declares broker-side dead-lettering after a delivery limit.
    #[must_use]
    pub const fn with_native_dead_letter(mut self, yes: bool) -> Self {
        self.native_dead_letter = yes;
        self
    }

    /// Declares the delivery count precision.
    #[must_use]
    pub const fn with_delivery_count(mut self, precision: CountPrecision) -> Self {
        self.delivery_count = precision;
        self
    }

    /// Declares that unused groups expire by themselves.
    #[must_use]
    pub const fn with_group_expiry(mut self, yes: bool) -> Self {
        self.group_expiry = yes;
        self
    }
}

/// How a group is joined by [`Transport::subscribe`](super::Transport::subscribe).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct SubscribeOptions {
    /// Remove the group (and what it holds) once it has had no consumer for this long; `None` keeps it
    /// until [`Transport::delete_group`](super::Transport::delete_group). Used for per-owner reply
    /// channels, so an orchestrator that never comes back leaves nothing behind.
    pub expire_after: Option<std::time::Duration>,
}

impl SubscribeOptions {
    /// A durable group that stays until deleted.
    #[must_use]
    pub const fn durable() -> Self {
        Self { expire_after: None }
    }

    /// A group that expires after `idle` without a consumer (AMQP `x-expires`, a Redis key TTL renewed
    /// by its readers). Transports without [`Capabilities::group_expiry`] keep it until deleted.
    #[must_use]
    pub const fn with_expiry(mut self, idle: std::time::Duration) -> Self {
        self.expire_after = Some(idle);
        self
    }
}
