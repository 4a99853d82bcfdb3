//! The names of everything the transport declares, derived from the prefix, the topic and the group.
//!
//! Queue names carry topic and group both, separated by `/` (escaped inside either part), so two
//! groups of one name on two topics never share a queue, and no (topic, group) pair can produce the
//! name of another. AMQP names are at most 255 bytes: a longer one is cut and ends with a hash of the
//! whole name.

use std::fmt::Write as _;

use saga::transport::{dead_letter_topic, TransportError};

use crate::error::refused;

/// The longest AMQP short string (exchange, queue and routing key names).
const MAX_NAME: usize = 255;

/// Room kept after a group queue's name for the `.dead-letter` suffix of its dead-letter queue.
const DEAD_LETTER_SUFFIX: &str = ".dead-letter";

/// The longest topic accepted: its dead-letter topic must fit in a routing key too.
pub(crate) const MAX_TOPIC_LEN: usize = MAX_NAME - DEAD_LETTER_SUFFIX.len();

/// The exchange and queue names of one prefix.
#[derive(Debug, Clone)]
pub(crate) struct Names {
    prefix: String,
    /// The topic exchange every topic is published to (routing key = topic).
    pub(crate) topics: String,
    /// The direct exchange dead letters go through (routing key = the group queue's name).
    pub(crate) dead_letters: String,
    /// The headers exchange that routes delayed messages to their delay level.
    pub(crate) delays: String,
}

/// The queues of one (topic, group).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupNames {
    /// The topic (routing and binding key).
    pub(crate) topic: String,
    /// The group's queue.
    pub(crate) queue: String,
    /// Where its dead letters are kept (`<queue>.dead-letter`).
    pub(crate) dead_letter_queue: String,
    /// The routing key of its dead letters on the topic exchange ([`dead_letter_topic`]).
    pub(crate) dead_letter_topic: String,
}

impl Names {
    /// The names under `prefix` (already validated).
    pub(crate) fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
            topics: format!("{prefix}.topics"),
            dead_letters: format!("{prefix}.dead-letter"),
            delays: format!("{prefix}.delay"),
        }
    }

    /// The prefix.
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The queue of delay level `level` (messages wait `2^level` ms in it).
    pub(crate) fn delay_queue(&self, level: u32) -> String {
        format!("{}.delay.{}", self.prefix, 1u64 << level)
    }

    /// The queues of `group` on `topic`.
    ///
    /// # Errors
    /// A permanent [`TransportError::Backend`] for a topic that cannot be a routing key.
    pub(crate) fn group(&self, topic: &str, group: &str) -> Result<GroupNames, TransportError> {
        check_topic(topic)?;
        if group.is_empty() {
            return Err(refused("the group name is empty"));
        }
        let mut queue = format!("{}.", self.prefix);
        escape(topic, &mut queue);
        queue.push('/');
        escape(group, &mut queue);
        Ok(GroupNames {
            topic: topic.to_owned(),
            queue: fit(queue, MAX_NAME - DEAD_LETTER_SUFFIX.len()),
            dead_letter_queue: String::new(),
            dead_letter_topic: dead_letter_topic(topic),
        }
        .with_dead_letter_queue())
    }
}

impl GroupNames {
    fn with_dead_letter_queue(mut self) -> Self {
        self.dead_letter_queue = format!("{}{DEAD_LETTER_SUFFIX}", self.queue);
        self
    }
}

/// Checks that `topic` can be a routing key and a binding key that matches only itself.
///
/// # Errors
/// A permanent [`TransportError::Backend`] naming the problem.
pub(crate) fn check_topic(topic: &str) -> Result<(), TransportError> {
    if topic.is_empty() {
        return Err(refused("the topic is empty"));
    }
    if topic.len() > MAX_TOPIC_LEN {
        return Err(refused(format_args!(
            "topic of {} bytes is longer than {MAX_TOPIC_LEN} bytes",
            topic.len()
        )));
    }
    if topic.contains(['*', '#']) {
        return Err(refused(format_args!(
            "topic {topic:?} contains a topic-exchange wildcard (* or #)"
        )));
    }
    Ok(())
}

/// Appends `part` with `%` and `/` percent-encoded.
fn escape(part: &str, out: &mut String) {
    for c in part.chars() {
        match c {
            '%' => out.push_str("%25"),
            '/' => out.push_str("%2F"),
            c => out.push(c),
        }
    }
}

/// `name` if it fits in `max` bytes, else its start (on a char boundary) plus `~` and a 64-bit FNV-1a
/// hash of the whole name in hex.
fn fit(name: String, max: usize) -> String {
    if name.len() <= max {
        return name;
    }
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let mut keep = max - 17;
    while !name.is_char_boundary(keep) {
        keep -= 1;
    }
    let mut out = name[..keep].to_owned();
    let _ = write!(out, "~{hash:016x}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queues_are_named_after_topic_and_group() {
        let n = Names::new("p");
        let g = n.group("orders", "billing").expect("valid");
        assert_eq!(g.queue, "p.orders/billing");
        assert_eq!(g.dead_letter_queue, "p.orders/billing.dead-letter");
        assert_eq!(g.dead_letter_topic, "orders.dead-letter");
        assert_ne!(
            n.group("a/b", "c").expect("valid").queue,
            n.group("a", "b/c").expect("valid").queue
        );
        assert_ne!(
            n.group("a", "b").expect("valid").queue,
            n.group("b", "a").expect("valid").queue
        );
        assert_eq!(n.delay_queue(10), "p.delay.1024");
    }

    #[test]
    fn long_names_are_cut_with_a_hash() {
        let n = Names::new("p");
        let long = "日".repeat(100);
        let a = n.group("t", &long).expect("valid");
        let b = n.group("t", &format!("{long}x")).expect("valid");
        assert!(a.dead_letter_queue.len() <= MAX_NAME);
        assert_ne!(a.queue, b.queue);
    }

    #[test]
    fn wildcards_and_oversized_topics_are_refused() {
        let n = Names::new("p");
        for bad in ["", "a.*", "a.#", &"t".repeat(MAX_TOPIC_LEN + 1)] {
            let e = n.group(bad, "g").expect_err("refused");
            assert!(!e.is_transient());
        }
        assert!(n.group("t", "").is_err());
        assert!(n.group(&"t".repeat(MAX_TOPIC_LEN), "g").is_ok());
    }
}
