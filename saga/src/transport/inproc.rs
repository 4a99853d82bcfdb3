//! The in-process transport: the fastest path, and the test double of the broker adapters.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use parking_lot::{Mutex, RwLock};
use tokio::sync::{Notify, Semaphore};

use super::{
    dead_letter_topic, Acker, Delivery, Message, Subscription, Transport, TransportError,
    DEAD_LETTER_REASON, DEFAULT_MAX_MESSAGE_SIZE,
};

/// Configuration of an [`InProcTransport`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct InProcConfig {
    max_message_size: usize,
    capacity: usize,
    max_deliveries: Option<u32>,
}

impl Default for InProcConfig {
    /// 1 MiB messages, 4096 unsettled messages per group, dead-lettered after 16 deliveries.
    fn default() -> Self {
        Self {
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            capacity: 4096,
            max_deliveries: Some(16),
        }
    }
}

impl InProcConfig {
    /// The largest payload `publish` accepts.
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
}

/// A message that was dead-lettered, as recorded by [`InProcTransport::dead_letters`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct DeadLetter {
    /// The topic it was published to.
    pub topic: Arc<str>,
    /// The group that gave up on it.
    pub group: Arc<str>,
    /// The message (with the [`DEAD_LETTER_REASON`] header added).
    pub message: Message,
    /// Why.
    pub reason: String,
    /// How often it had been delivered.
    pub deliveries: u32,
}

/// An in-process [`Transport`]: one queue per group, competing consumers, redelivery on nack and on drop,
/// a dead-letter list, and bounded capacity with backpressure. Cheap to clone (an `Arc`).
///
/// A group's queue is a `VecDeque` behind a mutex with a [`Notify`] for consumers and a [`Semaphore`]
/// for capacity, not a `tokio::sync::mpsc` channel: a redelivery from `Drop` must neither block nor fail,
/// and holding the capacity permit until settlement (not just until dequeue) makes redelivery free of
/// capacity checks. Ordering: messages from one publisher reach a group in publish order, except that a
/// redelivered message goes to the back of the queue (it never blocks the messages behind it).
///
/// ```
/// # tokio_test_block_on(async {
/// use saga::transport::{InProcTransport, Message, MessageKind, Transport};
/// let transport = InProcTransport::new();
/// let mut sub = transport.subscribe("orders", "billing").await?;
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

#[derive(Default)]
struct Shared {
    config: InProcConfig,
    topics: RwLock<HashMap<Arc<str>, Arc<Topic>>>,
    closed: AtomicBool,
    dead_letters: Mutex<Vec<DeadLetter>>,
}

struct Topic {
    groups: RwLock<Arc<[Arc<Group>]>>,
}

struct Group {
    topic: Arc<str>,
    name: Arc<str>,
    queue: Mutex<VecDeque<Entry>>,
    notify: Notify,
    capacity: Semaphore,
}

struct Entry {
    message: Message,
    deliveries: u32,
    holds_permit: bool,
}

impl Group {
    fn push(&self, entry: Entry) {
        self.queue.lock().push_back(entry);
        self.notify.notify_one();
    }

    fn release(&self, holds_permit: bool) {
        if holds_permit {
            self.capacity.add_permits(1);
        }
    }
}

impl Shared {
    fn topic(&self, name: &str) -> Option<Arc<Topic>> {
        self.topics.read().get(name).cloned()
    }

    /// Records a dead letter and publishes it to the dead-letter topic without waiting for capacity.
    fn dead_letter(&self, group: &Group, mut message: Message, reason: &str, deliveries: u32) {
        tracing::warn!(
            topic = %group.topic, group = %group.name, message_id = %message.headers.message_id,
            deliveries, reason, "message dead-lettered"
        );
        // The reason header is not reserved, so this cannot fail.
        let _ = message.headers.insert(DEAD_LETTER_REASON, reason);
        let dl_topic = dead_letter_topic(&group.topic);
        if let Some(topic) = self.topic(&dl_topic) {
            let groups = Arc::clone(&*topic.groups.read());
            for g in groups.iter() {
                g.push(Entry {
                    message: message.clone(),
                    deliveries: 0,
                    holds_permit: false,
                });
            }
        }
        self.dead_letters.lock().push(DeadLetter {
            topic: Arc::clone(&group.topic),
            group: Arc::clone(&group.name),
            message,
            reason: reason.to_owned(),
            deliveries,
        });
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
            shared: Arc::new(Shared {
                config,
                ..Shared::default()
            }),
        }
    }

    /// Every message dead-lettered so far, oldest first.
    #[must_use]
    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        self.shared.dead_letters.lock().clone()
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
        let limit = shared.config.max_message_size;
        if message.size() > limit {
            return Err(TransportError::MessageTooLarge {
                size: message.size(),
                limit,
            });
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

    async fn subscribe(
        &self,
        topic: &str,
        group: &str,
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

    fn max_message_size(&self) -> usize {
        self.shared.config.max_message_size
    }
}

struct InProcSubscription {
    group: Arc<Group>,
    shared: Arc<Shared>,
}

#[async_trait]
impl Subscription for InProcSubscription {
    async fn next(&mut self) -> Option<Result<Delivery, TransportError>> {
        let group = &self.group;
        loop {
            let notified = group.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.shared.closed.load(Ordering::SeqCst) {
                return None;
            }
            let popped = {
                let mut queue = group.queue.lock();
                let entry = queue.pop_front();
                (entry, !queue.is_empty())
            };
            if let (Some(mut entry), more) = popped {
                if more {
                    // Hand the wake-up on, so a competing consumer picks up the rest.
                    group.notify.notify_one();
                }
                entry.deliveries = entry.deliveries.saturating_add(1);
                if let Some(max) = self.shared.config.max_deliveries {
                    if entry.deliveries > max {
                        let reason = format!("delivery limit of {max} exceeded");
                        self.shared.dead_letter(
                            group,
                            entry.message,
                            &reason,
                            entry.deliveries - 1,
                        );
                        group.release(entry.holds_permit);
                        continue;
                    }
                }
                let acker = InProcAcker {
                    group: Arc::clone(group),
                    shared: Arc::clone(&self.shared),
                    deliveries: entry.deliveries,
                    holds_permit: entry.holds_permit,
                };
                return Some(Ok(Delivery::new(
                    entry.message,
                    entry.deliveries,
                    Box::new(acker),
                )));
            }
            notified.await;
        }
    }
}

struct InProcAcker {
    group: Arc<Group>,
    shared: Arc<Shared>,
    deliveries: u32,
    holds_permit: bool,
}

impl InProcAcker {
    fn requeue_now(self, message: Message) {
        self.group.push(Entry {
            message,
            deliveries: self.deliveries,
            holds_permit: self.holds_permit,
        });
    }
}

#[async_trait]
impl Acker for InProcAcker {
    async fn ack(self: Box<Self>) -> Result<(), TransportError> {
        self.group.release(self.holds_permit);
        Ok(())
    }

    async fn requeue(self: Box<Self>, message: Message) -> Result<(), TransportError> {
        self.requeue_now(message);
        Ok(())
    }

    async fn dead_letter(
        self: Box<Self>,
        message: Message,
        reason: &str,
    ) -> Result<(), TransportError> {
        self.shared
            .dead_letter(&self.group, message, reason, self.deliveries);
        self.group.release(self.holds_permit);
        Ok(())
    }

    fn abandon(self: Box<Self>, message: Message) {
        self.requeue_now(message);
    }
}
