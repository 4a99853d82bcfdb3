//! From read or claimed entries to deliveries: entries for another group are acknowledged unread,
//! undecodable and oversized ones and those over the delivery limit are dead-lettered with the reason,
//! the rest become [`Delivery`]s with their exact delivery count.

use std::sync::Arc;

use bytes::Bytes;
use saga::transport::{bounded, Delivery, DeliveryCount, DEAD_LETTER_REASON};

use super::acker::RedisAcker;
use super::entry::{decode, fields, Decoded, RawEntry};
use super::keys::TopicKeys;
use super::shared::Shared;
use super::stats::add;

/// The deliveries among `entries`. `counts` are the entries' times-delivered from the pending list
/// (claims); without them each entry is on its first delivery to this group (`XREADGROUP >`). The
/// count of a delivery adds the deliveries before a requeue added the entry again.
pub(crate) async fn deliveries(
    shared: &Arc<Shared>,
    keys: &Arc<TopicKeys>,
    group: &Arc<str>,
    entries: Vec<RawEntry>,
    counts: Option<Vec<u32>>,
) -> Vec<Delivery> {
    let mut out = Vec::with_capacity(entries.len());
    let mut skipped = Vec::new();
    for (i, mut entry) in entries.into_iter().enumerate() {
        let times = counts.as_ref().and_then(|c| c.get(i).copied()).unwrap_or(1);
        match decode(&mut entry, group, shared.config.max_message_size) {
            Decoded::Skip => skipped.push(entry.id),
            Decoded::Bad(reason) => {
                let reason = bounded(format_args!("undeliverable entry: {reason}"));
                let raw = entry
                    .fields
                    .take()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(n, v)| (n, Bytes::from(v)))
                    .collect();
                if let Err(e) = shared
                    .dead_letter(keys, group, &entry.id, raw, &reason)
                    .await
                {
                    tracing::warn!(topic = %keys.topic, error = %e, "dead-lettering failed; it stays pending");
                }
            }
            Decoded::Message { mut message, prior } => {
                let count = prior.saturating_add(times);
                if let Some(limit) = shared.config.delivery_limit.filter(|l| count > *l) {
                    let reason = format!("delivery limit of {limit} exceeded");
                    let _ = message.headers.insert(DEAD_LETTER_REASON, reason.clone());
                    let all = fields(&message, &[]);
                    if let Err(e) = shared
                        .dead_letter(keys, group, &entry.id, all, &reason)
                        .await
                    {
                        tracing::warn!(topic = %keys.topic, error = %e, "dead-lettering failed; it stays pending");
                    }
                    continue;
                }
                let acker = RedisAcker {
                    shared: Arc::clone(shared),
                    keys: Arc::clone(keys),
                    group: Arc::clone(group),
                    id: entry.id,
                    deliveries: count,
                };
                out.push(Delivery::new(
                    message,
                    DeliveryCount::Exact(count),
                    Box::new(acker),
                ));
            }
        }
    }
    if !skipped.is_empty() {
        let mut cmd = redis::cmd("XACK");
        cmd.arg(&keys.stream).arg(&**group).arg(&skipped);
        if let Err(e) = shared.command::<u64>("ack", &cmd).await {
            tracing::debug!(topic = %keys.topic, error = %e, "acknowledging entries of other groups failed");
        }
    }
    add(&shared.stats.delivered, out.len() as u64);
    out
}
