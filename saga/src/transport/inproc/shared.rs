//! The state an in-process transport shares with its subscriptions: topics, groups and their queues.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use tokio::sync::{Notify, Semaphore};

use super::dead_letters::{DeadLetter, DeadLetters};
use super::InProcConfig;
use crate::transport::{bounded, dead_letter_topic, Message, DEAD_LETTER_REASON};

pub(super) struct Shared {
    pub(super) config: InProcConfig,
    pub(super) topics: RwLock<HashMap<Arc<str>, Arc<Topic>>>,
    pub(super) closed: AtomicBool,
    pub(super) dead_letters: DeadLetters,
}

impl Default for Shared {
    fn default() -> Self {
        Self::new(InProcConfig::default())
    }
}

pub(super) struct Topic {
    pub(super) groups: RwLock<Arc<[Arc<Group>]>>,
}

pub(super) struct Group {
    pub(super) topic: Arc<str>,
    pub(super) name: Arc<str>,
    pub(super) queue: Mutex<VecDeque<Entry>>,
    pub(super) notify: Notify,
    pub(super) capacity: Semaphore,
}

pub(super) struct Entry {
    pub(super) message: Message,
    pub(super) deliveries: u32,
    pub(super) holds_permit: bool,
}

impl Group {
    pub(super) fn push(&self, entry: Entry) {
        self.queue.lock().push_back(entry);
        self.notify.notify_one();
    }

    pub(super) fn release(&self, holds_permit: bool) {
        if holds_permit {
            self.capacity.add_permits(1);
        }
    }
}

impl Shared {
    pub(super) fn new(config: InProcConfig) -> Self {
        Self {
            dead_letters: DeadLetters::new(config.dead_letter_capacity),
            config,
            topics: RwLock::default(),
            closed: AtomicBool::new(false),
        }
    }

    pub(super) fn topic(&self, name: &str) -> Option<Arc<Topic>> {
        self.topics.read().get(name).cloned()
    }

    /// Records a dead letter and publishes it to the dead-letter topic without waiting for capacity. The
    /// reason is [`bounded`] here, whoever gave it.
    pub(super) fn dead_letter(
        &self,
        group: &Group,
        mut message: Message,
        reason: &str,
        deliveries: u32,
    ) {
        let reason = bounded(reason);
        tracing::warn!(
            topic = %group.topic, group = %group.name, message_id = %message.headers.message_id,
            deliveries, reason = reason.as_str(), "message dead-lettered"
        );
        // The reason header is not reserved, so this cannot fail.
        let _ = message.headers.insert(DEAD_LETTER_REASON, reason.clone());
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
        self.dead_letters.push(DeadLetter {
            topic: Arc::clone(&group.topic),
            group: Arc::clone(&group.name),
            message,
            reason,
            deliveries,
        });
    }
}
