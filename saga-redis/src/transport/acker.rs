//! Settling one delivery: `XACK`, a requeue through the group's delayed set, or a dead letter.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use saga::transport::{bounded, Acker, Message, TransportError, DEAD_LETTER_REASON};

use super::entry::{fields, F_DELIVERIES, F_GROUP};
use super::keys::TopicKeys;
use super::scripts::SCRIPTS;
use super::shared::Shared;
use super::stats::add;

/// The settlement of one stream entry delivered to one group.
pub(crate) struct RedisAcker {
    pub(crate) shared: Arc<Shared>,
    pub(crate) keys: Arc<TopicKeys>,
    pub(crate) group: Arc<str>,
    pub(crate) id: String,
    pub(crate) deliveries: u32,
}

/// The error of settling an entry that is no longer pending: another consumer claimed and settled
/// it, or the group was removed or recreated (a server restart without persistence).
fn stale(id: &str) -> TransportError {
    TransportError::Backend {
        message: format!("entry {id} is no longer pending in its group (settled elsewhere)"),
        transient: false,
        source: None,
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[async_trait]
impl Acker for RedisAcker {
    /// `XACK`. Acking an entry that is no longer pending is an error, not a silent success.
    async fn ack(self: Box<Self>) -> Result<(), TransportError> {
        let mut cmd = redis::cmd("XACK");
        cmd.arg(&self.keys.stream).arg(&*self.group).arg(&self.id);
        let n: u64 = self.shared.command("ack", &cmd).await?;
        if n == 0 {
            return Err(stale(&self.id));
        }
        add(&self.shared.stats.acked, 1);
        Ok(())
    }

    /// One script, atomically: `XACK`, then either `XADD` again (no delay) or `ZADD` into the group's
    /// delayed set with the due time as score. The entry is added again for this group only (other
    /// groups acknowledge it unread) and carries its delivery count so far. While the delay runs
    /// nothing is pending with this consumer; the message is in Redis, so a crash of this process
    /// delays it (any reader of the group moves it back once due) but never loses it.
    async fn requeue(
        self: Box<Self>,
        message: Message,
        delay: Duration,
    ) -> Result<(), TransportError> {
        let extra = [
            (F_GROUP, self.group.to_string()),
            (F_DELIVERIES, self.deliveries.to_string()),
        ];
        let fields = fields(&message, &extra);
        let mut invocation = SCRIPTS.requeue.key(&self.keys.stream);
        invocation
            .key(self.keys.delayed(&self.group))
            .arg(&*self.group)
            .arg(&self.id)
            .arg(millis(delay));
        for (name, value) in &fields {
            invocation.arg(name.as_slice()).arg(&value[..]);
        }
        let done: u64 = self.shared.script("requeue", &invocation).await?;
        if done == 0 {
            return Err(stale(&self.id));
        }
        add(&self.shared.stats.requeued, 1);
        if !delay.is_zero() {
            // Best effort: move it back as soon as it is due, rather than at a reader's next
            // maintenance pass. Losing this timer (a crash) only makes the redelivery later.
            let (shared, keys, group) = (self.shared, self.keys, self.group);
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                if let Err(e) = shared.move_due(&keys, &group).await {
                    tracing::debug!(topic = %keys.topic, error = %e, "moving a delayed entry failed");
                }
            });
        }
        Ok(())
    }

    /// Adds the message, with `reason` in the `dead-letter-reason` header, to the dead-letter stream,
    /// then acknowledges it.
    async fn dead_letter(
        self: Box<Self>,
        mut message: Message,
        reason: &str,
    ) -> Result<(), TransportError> {
        let reason = bounded(reason);
        // Not a reserved name: cannot fail.
        let _ = message.headers.insert(DEAD_LETTER_REASON, reason.clone());
        let fields = fields(&message, &[]);
        self.shared
            .dead_letter(&self.keys, &self.group, &self.id, fields, &reason)
            .await
    }

    /// Nothing: the entry stays pending with this consumer and another consumer of the group claims it
    /// (`XAUTOCLAIM`) once it has been idle for the claim idle time. Never blocks, needs no runtime.
    fn abandon(self: Box<Self>, _message: Message) {}
}
