//! Replies that arrived before their request was issued: after an orchestrator restart, the replies
//! published while it was down are read before the recovered sagas re-issue their commands.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use tokio::time::Instant;

use crate::transport::{Message, MessageId};

/// A buffer of early replies by correlation id, each kept until its deadline, bounded in entries and
/// in bytes ([`Message::size`]). Oldest first out when full.
#[derive(Debug)]
pub(super) struct EarlyReplies {
    by_id: HashMap<MessageId, (Instant, Message)>,
    order: VecDeque<(Instant, MessageId)>,
    capacity: usize,
    bytes: usize,
    max_bytes: usize,
}

impl EarlyReplies {
    pub(super) fn new(capacity: usize, max_bytes: usize) -> Self {
        Self {
            by_id: HashMap::new(),
            order: VecDeque::new(),
            capacity,
            bytes: 0,
            max_bytes,
        }
    }

    fn remove(&mut self, id: &MessageId) -> Option<(Instant, Message)> {
        let removed = self.by_id.remove(id)?;
        self.bytes -= removed.1.size();
        Some(removed)
    }

    /// Keeps `reply` for `ttl`; returns how many older replies were evicted (expired or crowded out).
    pub(super) fn keep(&mut self, id: MessageId, reply: Message, ttl: Duration) -> u64 {
        let now = Instant::now();
        let mut evicted = self.expire(now);
        let size = reply.size();
        if self.capacity == 0 || size > self.max_bytes {
            return evicted + 1;
        }
        if self.remove(&id).is_some() {
            evicted += 1; // a duplicate of a reply already kept
        }
        while self.by_id.len() >= self.capacity || self.bytes + size > self.max_bytes {
            let Some((_, oldest)) = self.order.pop_front() else {
                break;
            };
            if self.remove(&oldest).is_some() {
                evicted += 1;
            }
        }
        let deadline = now + ttl;
        self.bytes += size;
        self.by_id.insert(id, (deadline, reply));
        self.order.push_back((deadline, id));
        evicted
    }

    /// The reply kept for `id`, if it has not expired.
    pub(super) fn take(&mut self, id: MessageId) -> Option<Message> {
        let (deadline, reply) = self.remove(&id)?;
        (Instant::now() < deadline).then_some(reply)
    }

    fn expire(&mut self, now: Instant) -> u64 {
        let mut expired = 0;
        while let Some(&(deadline, id)) = self.order.front() {
            if deadline > now {
                break;
            }
            self.order.pop_front();
            if self.by_id.get(&id).is_some_and(|(d, _)| *d <= now) {
                self.remove(&id);
                expired += 1;
            }
        }
        // Entries taken earlier leave stale ids in `order`; keep it from growing past the map.
        if self.order.len() > 2 * self.capacity.max(1) {
            let by_id = &self.by_id;
            self.order.retain(|(_, id)| by_id.contains_key(id));
        }
        expired
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::MessageKind;

    #[tokio::test(start_paused = true)]
    async fn keeps_until_taken_or_expired_and_stays_bounded() {
        let mut early = EarlyReplies::new(2, 1 << 20);
        let ttl = Duration::from_secs(10);
        let (a, b, c) = (MessageId::new(), MessageId::new(), MessageId::new());
        assert_eq!(early.keep(a, Message::new(MessageKind::Reply, "a"), ttl), 0);
        assert_eq!(early.keep(b, Message::new(MessageKind::Reply, "b"), ttl), 0);
        assert_eq!(
            early.keep(c, Message::new(MessageKind::Reply, "c"), ttl),
            1,
            "full: the oldest goes"
        );
        assert!(early.take(a).is_none());
        assert_eq!(early.take(b).map(|m| m.payload), Some("b".into()));
        tokio::time::advance(ttl).await;
        assert!(early.take(c).is_none(), "expired");
    }

    #[test]
    fn the_byte_budget_holds() {
        let one = Message::new(MessageKind::Reply, vec![0u8; 1000]);
        let mut early = EarlyReplies::new(100, 3 * one.size());
        for _ in 0..10 {
            early.keep(MessageId::new(), one.clone(), Duration::from_secs(60));
        }
        assert!(early.bytes <= 3 * one.size());
        assert_eq!(early.by_id.len(), 3);
    }
}
