//! The in-process transport: the fastest path, and the test double of the broker adapters.

mod config;
mod dead_letters;
mod shared;
mod subscription;

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use async_trait::async_trait;
use parking_lot::{Mutex, RwLock};
use tokio::sync::{Notify, Semaphore};

pub use config::InProcConfig;
pub use dead_letters::DeadLetter;
use shared::{Entry, Group, Shared, Topic};
use subscription::InProcSubscription;

use super::{
    Capabilities, CountPrecision, Message, SubscribeOptions, Subscription, Transport,
    TransportError,
};

/// An in-process [`Transport`]: one queue per group, competing consumers, redelivery on nack and on drop,
/// a bounded record of the most recent dead letters (besides the dead-letter topic), and bounded capacity
/// with backpressure. Cheap to clone (an `Arc`).
///
/// A group's queue is a `VecDeque` behind a mutex with a [`Notify`] for consumers and a [`Semaphore`]
/// for capacity, not a `tokio::sync::mpsc` channel: a redelivery from `Drop` must neither block nor fail,
/// and holding the capacity permit until settlement (not just until dequeue) makes redelivery free of
/// capacity checks. Ordering: messages from one publisher reach a group in publish order, except that a
/// redelivered message goes to the back of the queue (it never blocks the messages behind it).
///
/// ```
/// # tokio_test_block_on(async {
/// use saga::transport::{InProcTransport, Message, MessageKind, Transport, TransportExt};
/// let transport = InProcTransport::new();
/// let mut sub = transport.subscribe_durable("orders", "billing").await?;
/// transport.publish("orders", Message::new(MessageKind::Event, "hello")).await?;
/// let delivery = sub.next().await.expect("open")?;
/// assert_eq!(&delivery.message().payload[..], b"hello");
/// delivery.ack().await?;
/// # Ok::<_, saga::transport::TransportError>(()) });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Clone, Default)]
pub struct InProcTransport {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for InProcTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcTransport")
            .field("config", &self.shared.config)
            .field("closed", &self.shared.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl InProcTransport {
    /// A transport with the default [`InProcConfig`].
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A transport with the given configuration.
    #[must_use]
    pub fn with_config(config: InProcConfig) -> Self {
        Self {
            shared: Arc::new(Shared::new(config)),
        }
    }

    /// The dead letters kept, oldest first: the most recent ones, at most
    /// [`with_dead_letter_capacity`](InProcConfig::with_dead_letter_capacity) of them. Each is shared
    /// (`Arc`), so reading them copies no message. Every dead letter also goes to the dead-letter topic
    /// ([`dead_letter_topic`](super::dead_letter_topic)), where nothing is evicted.
    #[must_use]
    pub fn dead_letters(&self) -> Vec<Arc<DeadLetter>> {
        self.shared.dead_letters.recent(usize::MAX)
    }

    /// The newest `n` dead letters kept, oldest first (as [`dead_letters`](Self::dead_letters), for a
    /// look at the latest without collecting the whole record).
    #[must_use]
    pub fn recent_dead_letters(&self, n: usize) -> Vec<Arc<DeadLetter>> {
        self.shared.dead_letters.recent(n)
    }

    /// How many dead letters were evicted from the record (oldest first) to keep it within its capacity.
    #[must_use]
    pub fn evicted_dead_letters(&self) -> u64 {
        self.shared.dead_letters.evicted()
    }

    /// Messages waiting in `group` of `topic` (not counting delivered, unsettled ones).
    #[must_use]
    pub fn queued(&self, topic: &str, group: &str) -> usize {
        self.shared.topic(topic).map_or(0, |t| {
            t.groups
                .read()
                .iter()
                .find(|g| &*g.name == group)
                .map_or(0, |g| g.queue.lock().len())
        })
    }

    /// Closes the transport: publishing fails with [`TransportError::Closed`], subscriptions end, and
    /// publishers waiting for capacity wake up with an error.
    pub fn close(&self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        for topic in self.shared.topics.read().values() {
            for g in topic.groups.read().iter() {
                g.capacity.close();
                g.notify.notify_waiters();
            }
        }
    }
}

#[async_trait]
impl Transport for InProcTransport {
    async fn publish(&self, topic: &str, message: Message) -> Result<(), TransportError> {
        let shared = &*self.shared;
        if shared.closed.load(Ordering::Relaxed) {
            return Err(TransportError::Closed);
        }
        // Measured before anything is copied: the message goes to every group.
        let (size, limit) = (message.size(), shared.config.max_message_size);
        if size > limit {
            return Err(TransportError::MessageTooLarge { size, limit });
        }
        let Some(topic) = shared.topic(topic) else {
            return Ok(()); // no group bound: like an exchange without queues
        };
        let groups = Arc::clone(&*topic.groups.read());
        let mut message = Some(message);
        for (i, group) in groups.iter().enumerate() {
            group
                .capacity
                .acquire()
                .await
                .map_err(|_| TransportError::Closed)?
                .forget();
            let message = if i + 1 == groups.len() {
                message.take()
            } else {
                message.clone()
            };
            if let Some(message) = message {
                group.push(Entry {
                    message,
                    deliveries: 0,
                    holds_permit: true,
                });
            }
        }
        Ok(())
    }

    /// Groups live as long as the transport (or until [`delete_group`](Transport::delete_group)):
    /// `options.expire_after` is not enforced in process, where nothing outlives the process anyway.
    async fn subscribe(
        &self,
        topic: &str,
        group: &str,
        _options: SubscribeOptions,
    ) -> Result<Box<dyn Subscription>, TransportError> {
        let shared = &self.shared;
        if shared.closed.load(Ordering::SeqCst) {
            return Err(TransportError::Closed);
        }
        let topic_name: Arc<str> = Arc::from(topic);
        let topic = Arc::clone(
            shared
                .topics
                .write()
                .entry(Arc::clone(&topic_name))
                .or_insert_with(|| {
                    Arc::new(Topic {
                        groups: RwLock::new(Arc::from(Vec::new())),
                    })
                }),
        );
        let mut groups = topic.groups.write();
        let group = if let Some(g) = groups.iter().find(|g| &*g.name == group) {
            Arc::clone(g)
        } else {
            let g = Arc::new(Group {
                topic: topic_name,
                name: Arc::from(group),
                queue: Mutex::new(VecDeque::new()),
                notify: Notify::new(),
                capacity: Semaphore::new(shared.config.capacity),
            });
            let mut next: Vec<Arc<Group>> = groups.iter().cloned().collect();
            next.push(Arc::clone(&g));
            *groups = Arc::from(next);
            g
        };
        drop(groups);
        Ok(Box::new(InProcSubscription {
            group,
            shared: Arc::clone(shared),
        }))
    }

    async fn delete_group(&self, topic: &str, group: &str) -> Result<(), TransportError> {
        let shared = &self.shared;
        if shared.closed.load(Ordering::SeqCst) {
            return Err(TransportError::Closed);
        }
        let Some(topic) = shared.topic(topic) else {
            return Ok(());
        };
        let mut groups = topic.groups.write();
        let kept: Vec<Arc<Group>> = groups
            .iter()
            .filter(|g| &*g.name != group)
            .cloned()
            .collect();
        if kept.len() != groups.len() {
            *groups = Arc::from(kept);
        }
        Ok(())
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::new(self.shared.config.max_message_size)
            .with_per_topic_ordering(true)
            .with_native_delay(true)
            .with_native_dead_letter(self.shared.config.max_deliveries.is_some())
            .with_delivery_count(CountPrecision::Exact)
    }
}
