//! Operations for operators and tests: trimming on demand, reading dead letters, deleting every key.

use redis::Value;
use saga::transport::{dead_letter_topic, Message, TransportError};

use super::entry::{decode, Decoded, F_DEAD_GROUP, F_DEAD_ID};
use super::keys::pattern;
use super::parse::parse_entries;
use super::RedisTransport;
use crate::error::{Error, Result};

/// A dead letter as stored in a dead-letter stream, read by [`RedisTransport::dead_letters`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RedisDeadLetter {
    /// Its entry id in the dead-letter stream.
    pub entry_id: String,
    /// The group that gave up on it.
    pub group: Option<String>,
    /// Its entry id in the topic's stream.
    pub source_id: Option<String>,
    /// Why (the `dead-letter-reason` header).
    pub reason: Option<String>,
    /// The message, or why its fields do not decode into one (they are kept as they were).
    pub message: Result<Message, String>,
}

fn field(fields: &[(Vec<u8>, Vec<u8>)], name: &str) -> Option<String> {
    fields
        .iter()
        .find(|(n, _)| n.as_slice() == name.as_bytes())
        .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
}

impl RedisTransport {
    /// Trims the stream of `topic` now (as every subscription does each trim interval): removes
    /// expired groups, then every entry below what every group has both delivered and acknowledged.
    /// Returns the entries left.
    ///
    /// # Errors
    /// A transport error.
    pub async fn trim(&self, topic: &str) -> Result<u64, TransportError> {
        self.shared.trim(&self.shared.keys(topic)).await
    }

    /// The newest `count` dead letters of `topic` (from its dead-letter stream, newest first), with
    /// their reasons; also those that never decoded into a message.
    ///
    /// # Errors
    /// A transport error.
    pub async fn dead_letters(
        &self,
        topic: &str,
        count: usize,
    ) -> Result<Vec<RedisDeadLetter>, TransportError> {
        let keys = self.shared.keys(&dead_letter_topic(topic));
        let mut cmd = redis::cmd("XREVRANGE");
        cmd.arg(&keys.stream)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(count);
        let reply: Value = self.shared.command("read dead letters", &cmd).await?;
        let entries = parse_entries(reply).map_err(TransportError::malformed)?;
        let max = usize::MAX;
        Ok(entries
            .into_iter()
            .map(|mut entry| {
                let fields = entry.fields.clone().unwrap_or_default();
                let message = match decode(&mut entry, "", max) {
                    Decoded::Message { message, .. } => Ok(message),
                    Decoded::Bad(reason) => Err(reason),
                    Decoded::Skip => Err("not for any group".to_owned()),
                };
                RedisDeadLetter {
                    entry_id: entry.id,
                    group: field(&fields, F_DEAD_GROUP),
                    source_id: field(&fields, F_DEAD_ID),
                    reason: field(&fields, saga::transport::DEAD_LETTER_REASON),
                    message,
                }
            })
            .collect())
    }

    /// Deletes every key of this transport's prefix (`SCAN MATCH <prefix>:t:*` + `UNLINK`): streams,
    /// groups, delayed entries, dead letters. For tests and demos with a throw-away prefix; on Redis
    /// Cluster it sees only the node the connection talks to. Returns how many keys were deleted.
    ///
    /// # Errors
    /// [`Error::Redis`].
    pub async fn delete_all(&self) -> Result<u64> {
        let mut conn = self.shared.conn.clone();
        let pattern = pattern(&self.shared.config.key_prefix);
        let (mut cursor, mut deleted) = (0u64, 0u64);
        loop {
            let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await
                .map_err(Error::redis)?;
            if !batch.is_empty() {
                let n: u64 = redis::cmd("UNLINK")
                    .arg(&batch)
                    .query_async(&mut conn)
                    .await
                    .map_err(Error::redis)?;
                deleted += n;
            }
            cursor = next;
            if cursor == 0 {
                return Ok(deleted);
            }
        }
    }
}
