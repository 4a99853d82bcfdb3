//! Key names of the transport: one hash tag per topic, so every script touches one slot.
//!
//! With prefix `P`, topic `T` and group `G` (both percent-encoded where they hold `{`, `}`, `%`, glob
//! characters, spaces or control characters, so the tag is always the whole topic):
//!
//! ```text
//! P:t:{T}:stream       stream  the topic's entries; one consumer group per subscribed group
//! P:t:{T}:expiry       hash    expiring groups: G -> deadline (server ms), renewed by their readers
//! P:t:{T}:delayed:G    zset    G's requeued entries waiting out their delay: score = due (server ms)
//! ```

use std::sync::Arc;

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use saga::transport::dead_letter_topic;

/// What is encoded in key names: braces (hash tags), `%` (the escape), glob characters (`SCAN
/// MATCH`), spaces and controls.
const ENCODED: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'{')
    .add(b'}')
    .add(b'%')
    .add(b'*')
    .add(b'?')
    .add(b'[')
    .add(b']')
    .add(b'\\')
    .add(0x7f);

fn encode(name: &str) -> String {
    utf8_percent_encode(name, ENCODED).to_string()
}

/// The keys of one topic.
#[derive(Debug)]
pub(crate) struct TopicKeys {
    /// The topic's name.
    pub(crate) topic: Arc<str>,
    /// `P:t:{T}:` (with the trailing colon).
    base: String,
    /// The stream.
    pub(crate) stream: String,
    /// The hash of expiring groups.
    pub(crate) expiry: String,
    /// Whether this is a dead-letter topic, whose stream keeps its newest entries without any group.
    pub(crate) dead_letters: bool,
}

impl TopicKeys {
    pub(crate) fn new(prefix: &str, topic: &str) -> Self {
        let base = format!("{prefix}:t:{{{}}}:", encode(topic));
        Self {
            topic: Arc::from(topic),
            stream: format!("{base}stream"),
            expiry: format!("{base}expiry"),
            dead_letters: topic.ends_with(&dead_letter_topic("")),
            base,
        }
    }

    /// The sorted set of `group`'s delayed entries.
    pub(crate) fn delayed(&self, group: &str) -> String {
        format!("{}delayed:{}", self.base, encode(group))
    }
}

/// The `SCAN MATCH` pattern of every key of the transport under `prefix`.
pub(crate) fn pattern(prefix: &str) -> String {
    format!("{prefix}:t:*")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_topic_is_one_hash_tag() {
        let k = TopicKeys::new("app", "orders");
        assert_eq!(k.stream, "app:t:{orders}:stream");
        assert_eq!(k.expiry, "app:t:{orders}:expiry");
        assert_eq!(k.delayed("billing"), "app:t:{orders}:delayed:billing");
        assert!(!k.dead_letters);
        assert!(TopicKeys::new("app", &dead_letter_topic("orders")).dead_letters);
    }

    #[test]
    fn braces_and_globs_cannot_break_the_tag() {
        let k = TopicKeys::new("p", "a}b{c*d %");
        assert_eq!(k.stream, "p:t:{a%7Db%7Bc%2Ad%20%25}:stream");
        assert_eq!(
            k.delayed("g{1}"),
            "p:t:{a%7Db%7Bc%2Ad%20%25}:delayed:g%7B1%7D"
        );
        // Distinct names stay distinct.
        assert_ne!(
            TopicKeys::new("p", "a%7D").stream,
            TopicKeys::new("p", "a}").stream
        );
        assert_eq!(pattern("p"), "p:t:*");
    }
}
