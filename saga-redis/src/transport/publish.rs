//! `publish`: `XADD … NOMKSTREAM` (a topic without groups has no stream, and nothing to deliver to),
//! with the soft stream bound.

use std::sync::Arc;
use std::time::{Duration, Instant};

use saga::transport::{Message, TransportError};

use super::entry::{fields, MAX_HEADERS};
use super::keys::TopicKeys;
use super::shared::Shared;
use super::stats::add;

impl Shared {
    /// Adds `message` to the topic's stream and returns after Redis answered (durable as far as the
    /// server's persistence goes). With a stream bound, the same round trip reads the stream's length;
    /// a publish to a topic found at its bound first waits for room.
    pub(crate) async fn publish(
        &self,
        topic: &str,
        message: Message,
    ) -> Result<(), TransportError> {
        if self.is_closed() {
            return Err(TransportError::Closed);
        }
        let (size, limit) = (message.size(), self.config.max_message_size);
        if size > limit {
            return Err(TransportError::MessageTooLarge { size, limit });
        }
        let headers = message.headers.to_pairs().len();
        if headers > MAX_HEADERS {
            return Err(TransportError::malformed(format_args!(
                "message with {headers} headers; the Redis transport carries at most {MAX_HEADERS}"
            )));
        }
        let keys = self.keys(topic);
        let bound = self.config.stream_bound;
        if let Some(bound) = bound {
            if self.congested.lock().contains(topic) {
                self.wait_for_room(&keys, bound).await?;
            }
        }
        let mut add_cmd = redis::cmd("XADD");
        add_cmd.arg(&keys.stream).arg("NOMKSTREAM").arg("*");
        for (name, value) in fields(&message, &[]) {
            add_cmd.arg(name).arg(&value[..]);
        }
        let id: Option<String> = match bound {
            None => self.command("publish", &add_cmd).await?,
            Some(bound) => {
                let mut pipe = redis::pipe();
                pipe.add_command(add_cmd).cmd("XLEN").arg(&keys.stream);
                let (id, len): (Option<String>, u64) = self.pipeline("publish", &pipe).await?;
                if len >= bound {
                    self.congested.lock().insert(Arc::clone(&keys.topic));
                }
                id
            }
        };
        match id {
            Some(_) => add(&self.stats.published, 1),
            None => add(&self.stats.unrouted, 1),
        }
        Ok(())
    }

    /// Trims the stream until it is under `bound`, pausing in between, for at most the configured
    /// publish wait; then fails with a transient error.
    async fn wait_for_room(&self, keys: &TopicKeys, bound: u64) -> Result<(), TransportError> {
        add(&self.stats.full, 1);
        let deadline = Instant::now() + self.config.publish_wait;
        let mut pause = Duration::from_millis(10);
        loop {
            let len = self.trim(keys).await?;
            if len < bound {
                return Ok(());
            }
            if Instant::now() + pause > deadline {
                return Err(TransportError::Backend {
                    message: format!(
                        "the stream of topic {:?} holds {len} entries some group still needs, at \
                         its bound of {bound}: its slowest group is behind",
                        saga::transport::bounded(&keys.topic)
                    ),
                    transient: true,
                    source: None,
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(250));
        }
    }
}
