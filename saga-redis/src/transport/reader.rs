//! One consumer of a group: a dedicated connection for `XREADGROUP … BLOCK`, and the maintenance its
//! subscription does between reads (claiming stale entries, moving due delayed ones, trimming, renewing
//! an expiring group). Reconnects with backoff and recreates its group when it has vanished.

use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::Value;
use saga::transport::{Delivery, TransportError};
use tokio::sync::watch;

use super::connection::{backoff, connect, join};
use super::entry::RawEntry;
use super::keys::TopicKeys;
use super::parse::{parse_claim, parse_read};
use super::scripts::SCRIPTS;
use super::shared::Shared;
use super::stats::add;

/// What one poll of a reader gave.
pub(crate) enum Polled {
    Batch(Vec<Delivery>),
    Failed(TransportError),
    Closed,
}

pub(crate) struct Reader {
    pub(crate) shared: Arc<Shared>,
    pub(crate) keys: Arc<TopicKeys>,
    pub(crate) group: Arc<str>,
    pub(crate) consumer: String,
    /// The group's expiry in ms (0: durable).
    pub(crate) expiry_ms: u64,
    conn: Option<MultiplexedConnection>,
    failures: u32,
    back_off: bool,
    /// The group vanished (`NOGROUP`): join it again before the next read.
    needs_join: bool,
    claim_from: String,
    next_claim: Instant,
    next_trim: Instant,
    next_move: Instant,
    next_renew: Instant,
    closed: watch::Receiver<bool>,
}

impl Reader {
    /// A reader of `group`, whose group has just been joined, reading on `conn`.
    pub(crate) fn new(
        shared: Arc<Shared>,
        keys: Arc<TopicKeys>,
        group: Arc<str>,
        consumer: String,
        expiry_ms: u64,
        conn: MultiplexedConnection,
    ) -> Self {
        let now = Instant::now();
        let closed = shared.closed.subscribe();
        Self {
            shared,
            keys,
            group,
            consumer,
            expiry_ms,
            conn: Some(conn),
            failures: 0,
            back_off: false,
            needs_join: false,
            claim_from: "0-0".to_owned(),
            next_claim: now,
            next_trim: now,
            next_move: now,
            next_renew: now + Duration::from_millis(expiry_ms / 3),
            closed,
        }
    }

    fn claim_interval(&self) -> Duration {
        (self.shared.config.claim_idle / 2).max(Duration::from_millis(10))
    }

    /// The next batch of deliveries, a transient error (after which the next poll backs off first),
    /// or `Closed`.
    pub(crate) async fn poll(mut self: Box<Self>) -> (Box<Self>, Polled) {
        let polled = self.poll_once().await;
        (self, polled)
    }

    async fn poll_once(&mut self) -> Polled {
        loop {
            if *self.closed.borrow() {
                return Polled::Closed;
            }
            if std::mem::take(&mut self.back_off) {
                let pause = backoff(&self.shared.config, self.failures);
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    _ = self.closed.changed() => return Polled::Closed,
                }
            }
            if self.conn.is_none() {
                match connect(&self.shared, &self.consumer).await {
                    Ok(conn) => self.conn = Some(conn),
                    Err(e) => return self.failed(e),
                }
                add(&self.shared.stats.reconnects, 1);
                // Re-declare: after a restart without persistence the stream and group are gone.
                let joined = join(&self.shared, &self.keys, &self.group, self.expiry_ms);
                match joined.await {
                    Ok(true) => tracing::warn!(
                        topic = %self.keys.topic, group = %self.group,
                        "group was missing after reconnecting and was recreated"
                    ),
                    Ok(false) => {}
                    Err(e) => return self.failed(e),
                }
                tracing::info!(topic = %self.keys.topic, group = %self.group, "subscription reconnected");
            }
            match self.maintain().await {
                Ok(batch) if !batch.is_empty() => return Polled::Batch(batch),
                Ok(_) => {}
                Err(e) => return self.failed(e),
            }
            match self.read().await {
                Ok(Some(batch)) if !batch.is_empty() => {
                    self.failures = 0;
                    return Polled::Batch(batch);
                }
                Ok(Some(_)) => self.failures = 0,
                Ok(None) => return Polled::Closed,
                Err(e) => return self.failed(e),
            }
        }
    }

    /// Records a failure: the next poll backs off, and reconnects if the connection may be broken.
    fn failed(&mut self, e: TransportError) -> Polled {
        self.failures = self.failures.saturating_add(1);
        self.back_off = true;
        if matches!(
            e,
            TransportError::Connection { .. } | TransportError::Timeout { .. }
        ) {
            self.conn = None;
        }
        tracing::warn!(
            topic = %self.keys.topic, group = %self.group, failures = self.failures, error = %e,
            "subscription error; retrying"
        );
        Polled::Failed(e)
    }

    /// Renews an expiring group, moves due delayed entries, trims, and claims stale entries (returned
    /// as deliveries), each when it is due.
    async fn maintain(&mut self) -> Result<Vec<Delivery>, TransportError> {
        let now = Instant::now();
        let shared = Arc::clone(&self.shared);
        if self.expiry_ms > 0 && now >= self.next_renew {
            join(&shared, &self.keys, &self.group, self.expiry_ms).await?;
            self.next_renew = now + Duration::from_millis(self.expiry_ms / 3);
        }
        if now >= self.next_move {
            let next = shared.move_due(&self.keys, &self.group).await?;
            let interval = self.claim_interval();
            self.next_move = now + next.map_or(interval, |due| due.min(interval));
        }
        if now >= self.next_trim {
            shared.trim(&self.keys).await?;
            self.next_trim = now + shared.config.trim_interval;
        }
        if now < self.next_claim {
            return Ok(Vec::new());
        }
        let idle = u64::try_from(shared.config.claim_idle.as_millis()).unwrap_or(u64::MAX);
        let reply: Value = shared
            .script(
                "claim",
                SCRIPTS
                    .claim
                    .key(&self.keys.stream)
                    .arg(&*self.group)
                    .arg(&self.consumer)
                    .arg(idle)
                    .arg(&self.claim_from)
                    .arg(shared.config.batch_size),
            )
            .await
            .or_else(|e| self.recreate_if_missing(e))?;
        let (next, entries, deleted, counts) = parse_claim(reply)?;
        // A full batch may have more behind it: claim again right away.
        self.next_claim = if next == "0-0" {
            now + self.claim_interval()
        } else {
            now
        };
        self.claim_from = next;
        if deleted > 0 {
            tracing::warn!(
                topic = %self.keys.topic, group = %self.group, deleted,
                "pending entries were deleted from the stream by something other than this transport"
            );
        }
        add(&shared.stats.claimed, entries.len() as u64);
        Ok(self.deliveries(entries, Some(counts)).await)
    }

    /// A `NOGROUP` error (the stream or group vanished) makes the next read recreate the group; the
    /// operation is then reported as having found nothing.
    fn recreate_if_missing(&mut self, e: TransportError) -> Result<Value, TransportError> {
        if e.to_string().contains("NOGROUP") {
            self.needs_join = true;
            return Ok(Value::Nil);
        }
        Err(e)
    }

    /// One blocking `XREADGROUP`; `None` when the transport was closed meanwhile.
    async fn read(&mut self) -> Result<Option<Vec<Delivery>>, TransportError> {
        if std::mem::take(&mut self.needs_join) {
            join(&self.shared, &self.keys, &self.group, self.expiry_ms).await?;
        }
        let now = Instant::now();
        let due = self.next_claim.min(self.next_trim).min(self.next_move);
        let block = self
            .shared
            .config
            .block_time
            .min(due.saturating_duration_since(now))
            .max(Duration::from_millis(1));
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(&*self.group)
            .arg(&self.consumer)
            .arg("COUNT")
            .arg(self.shared.config.batch_size)
            .arg("BLOCK")
            .arg(u64::try_from(block.as_millis()).unwrap_or(1))
            .arg("STREAMS")
            .arg(&self.keys.stream)
            .arg(">");
        let Some(conn) = self.conn.as_mut() else {
            return Ok(Some(Vec::new()));
        };
        let reply: redis::RedisResult<Value> = tokio::select! {
            r = cmd.query_async(conn) => r,
            _ = self.closed.changed() => return Ok(None),
        };
        let entries = match reply {
            Ok(v) => parse_read(v).map_err(TransportError::malformed)?,
            Err(e) if e.code() == Some("NOGROUP") => {
                self.needs_join = true;
                return Ok(Some(Vec::new()));
            }
            Err(e) => return Err(self.shared.error(e, "read")),
        };
        Ok(Some(self.deliveries(entries, None).await))
    }

    /// Turns entries into deliveries; see [`super::deliver`].
    async fn deliveries(&self, entries: Vec<RawEntry>, counts: Option<Vec<u32>>) -> Vec<Delivery> {
        super::deliver::deliveries(&self.shared, &self.keys, &self.group, entries, counts).await
    }
}
