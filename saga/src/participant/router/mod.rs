//! The orchestrator side: one reply subscription per orchestrator, correlating replies to requests.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::oneshot;

mod route;

use super::early::EarlyReplies;
use super::RouterConfig;
use crate::id::{Direction, SagaId};
use crate::transport::{
    into_stream, Headers, Message, MessageId, SubscribeOptions, Transport, TransportError,
};

/// Routes replies to the requests waiting for them. Cheap to clone; share one per orchestrator process
/// between all its [`RemoteStep`](super::RemoteStep)s. The routing task stops when the last clone (and
/// every step holding one) is dropped.
///
/// # The reply channel
///
/// Replies go to the topic `saga.replies.<owner id>` ([`RouterConfig::with_owner_id`]; give it the
/// executor's stable owner id), consumed by a group of the same name. It outlives the process: replies
/// published while the orchestrator is down wait there, and a restarted orchestrator with the same
/// owner id reads them. A reply that arrives before its request is (re)issued, as after a restart,
/// is kept for a while ([`RouterConfig::with_early_replies`]); the recovered saga re-issues the command
/// with the same message id (derived from the idempotency key and attempt), finds the reply, and does
/// not even publish again. The channel's lifetime is explicit: [`shutdown`](Self::shutdown) deletes
/// it; an owner that never comes back leaves it to expire
/// ([`RouterConfig::with_reply_expiry`], on transports with
/// [`Capabilities::group_expiry`](crate::transport::Capabilities)).
///
/// A reply is accepted only if its correlation id names a pending request *and* its saga id, step,
/// direction and attempt match that request; it is accepted once (the pending entry is removed). Unknown,
/// duplicate and late replies (after the request timed out) are acknowledged and dropped. A reply over
/// the size limit, one that is not a reply, or one whose headers disagree with each other
/// ([`Headers::check_consistency`]) is dead-lettered before it is matched.
#[derive(Clone)]
pub struct ReplyRouter {
    shared: Arc<Shared>,
    _task: Arc<AbortOnDrop>,
}

impl std::fmt::Debug for ReplyRouter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplyRouter")
            .field("reply_topic", &self.shared.reply_topic)
            .field("pending", &self.pending())
            .finish_non_exhaustive()
    }
}

/// Counters of a [`ReplyRouter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RouterStats {
    /// Replies handed to the request waiting for them.
    pub accepted: u64,
    /// Replies dropped: duplicate, late, not matching the request, or expired unclaimed from the
    /// early-reply buffer.
    pub dropped: u64,
    /// Replies that arrived before their request was issued (after a restart) and were kept for it.
    pub early: u64,
    /// Replies dead-lettered (oversized, not a reply, or with inconsistent headers).
    pub dead_lettered: u64,
}

/// A request waiting for its reply, and what the reply must repeat of it.
struct Pending {
    step: StepOf,
    tx: oneshot::Sender<Message>,
}

/// The saga step a message belongs to: saga id, step, direction and attempt, each compared on its own
/// (a request that names only its saga still gets only replies of that saga).
#[derive(PartialEq, Eq)]
struct StepOf {
    saga_id: Option<SagaId>,
    step: Option<u32>,
    direction: Option<Direction>,
    attempt: Option<u32>,
}

impl StepOf {
    fn of(h: &Headers) -> Self {
        Self {
            saga_id: h.saga_id,
            step: h.step,
            direction: h.direction,
            attempt: h.attempt,
        }
    }
}

pub(crate) struct Shared {
    transport: Arc<dyn Transport>,
    reply_topic: Arc<str>,
    pub(crate) config: RouterConfig,
    pending: Mutex<HashMap<MessageId, Pending>>,
    early: Mutex<EarlyReplies>,
    early_count: AtomicU64,
    accepted: AtomicU64,
    dropped: AtomicU64,
    dead_lettered: AtomicU64,
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Removes a pending entry when the request finishes, times out or is dropped.
struct PendingGuard<'a> {
    shared: &'a Shared,
    id: MessageId,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        self.shared.pending.lock().remove(&self.id);
    }
}

impl ReplyRouter {
    /// Subscribes to the reply topic and starts routing replies.
    ///
    /// # Errors
    /// What [`Transport::subscribe`] returns.
    pub async fn start(
        transport: Arc<dyn Transport>,
        config: RouterConfig,
    ) -> Result<Self, TransportError> {
        let reply_topic: Arc<str> = Arc::from(config.reply_topic());
        let options = SubscribeOptions::durable().with_expiry(config.reply_expiry);
        let sub = transport
            .subscribe(&reply_topic, &reply_topic, options)
            .await?;
        let shared = Arc::new(Shared {
            transport,
            reply_topic,
            early: Mutex::new(EarlyReplies::new(config.early_replies, config.early_bytes)),
            early_count: AtomicU64::new(0),
            config,
            pending: Mutex::new(HashMap::new()),
            accepted: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            dead_lettered: AtomicU64::new(0),
        });
        let task = tokio::spawn(Arc::clone(&shared).run(into_stream(sub)));
        Ok(Self {
            shared,
            _task: Arc::new(AbortOnDrop(task.abort_handle())),
        })
    }

    /// The topic replies to this router's requests go to.
    #[must_use]
    pub fn reply_topic(&self) -> &str {
        &self.shared.reply_topic
    }

    /// The transport requests go over.
    #[must_use]
    pub fn transport(&self) -> &Arc<dyn Transport> {
        &self.shared.transport
    }

    /// Stops routing and deletes the reply channel with whatever it still holds: the clean end of an
    /// orchestrator that will not come back under this owner id. (Dropping the router instead keeps the
    /// channel for a restart.) Requests still waiting fail with [`TransportError::Closed`].
    ///
    /// # Errors
    /// What [`Transport::delete_group`] returns.
    pub async fn shutdown(self) -> Result<(), TransportError> {
        self._task.0.abort();
        self.shared.pending.lock().clear();
        let topic = &self.shared.reply_topic;
        self.shared.transport.delete_group(topic, topic).await
    }

    /// Requests waiting for a reply.
    #[must_use]
    pub fn pending(&self) -> usize {
        self.shared.pending.lock().len()
    }

    /// A snapshot of the counters.
    #[must_use]
    pub fn stats(&self) -> RouterStats {
        RouterStats {
            accepted: self.shared.accepted.load(Ordering::Relaxed),
            dropped: self.shared.dropped.load(Ordering::Relaxed),
            early: self.shared.early_count.load(Ordering::Relaxed),
            dead_lettered: self.shared.dead_lettered.load(Ordering::Relaxed),
        }
    }

    /// The default request timeout.
    #[must_use]
    pub fn timeout(&self) -> Duration {
        self.shared.config.timeout
    }

    /// Publishes `request` to `topic` with this router as its reply-to and waits up to `timeout` for the
    /// correlated reply. The request's message id is its correlation id.
    ///
    /// # Errors
    /// What publishing returns, [`TransportError::Timeout`] if no reply came in time, or
    /// [`TransportError::Closed`] if the router stopped.
    pub async fn request(
        &self,
        topic: &str,
        mut request: Message,
        timeout: Duration,
    ) -> Result<Message, TransportError> {
        let shared = &*self.shared;
        let id = request.headers.message_id;
        request.headers.reply_to = Some(Arc::clone(&shared.reply_topic));
        let step = StepOf::of(&request.headers);
        let (tx, rx) = oneshot::channel();
        {
            // Registered under the same lock the router files early replies under: a reply is either
            // found here or handed to the pending entry, never lost between the two.
            let mut early = shared.early.lock();
            if let Some(reply) = early.take(id) {
                if StepOf::of(&reply.headers) == step {
                    shared.accepted.fetch_add(1, Ordering::Relaxed);
                    return Ok(reply);
                }
                shared.dropped.fetch_add(1, Ordering::Relaxed);
            }
            shared.pending.lock().insert(id, Pending { step, tx });
        }
        let _guard = PendingGuard { shared, id };
        shared.transport.publish(topic, request).await?;
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(_)) => Err(TransportError::Closed),
            Err(_) => Err(TransportError::Timeout {
                operation: "request",
            }),
        }
    }
}
