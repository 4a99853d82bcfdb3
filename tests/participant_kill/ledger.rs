//! The effect ledger the participant processes share, on the local Redis under a random prefix: a
//! handler counts itself begun (`INCR`), then applies its effect the way a real participant
//! deduplicates across processes: one script that sets the idempotency key once (`HSETNX`) and, only
//! then, appends the effect to the `applied` list. Every run is also counted per key, so the test can
//! tell redeliveries (absorbed) from effects applied twice (`applied` longer than the set of keys).

use std::collections::HashSet;

use saga::{IdempotencyKey, StepError};
use saga_redis::redis::{self, AsyncCommands as _};

const APPLY: &str = r"
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call('RPUSH', KEYS[3], ARGV[1])
  return 1
end
return 0
";

/// A handle on the shared ledger under one prefix.
#[derive(Clone)]
pub struct Ledger {
    conn: redis::aio::MultiplexedConnection,
    prefix: String,
    apply: redis::Script,
}

/// What the ledger holds at the end.
#[derive(Debug)]
pub struct Audit {
    /// The idempotency keys whose effect was applied.
    pub keys: HashSet<String>,
    /// Effects appended to the `applied` list (more than `keys.len()`: an effect applied twice).
    pub applied: u64,
    /// Handler runs that reached the effect (more than `applied`: redeliveries absorbed).
    pub runs: u64,
}

fn transient(e: &redis::RedisError) -> StepError {
    StepError::transient(e.to_string())
}

impl Ledger {
    /// Connects to `url` and uses the keys `<prefix>:*`.
    pub async fn connect(url: &str, prefix: &str) -> redis::RedisResult<Self> {
        let client = redis::Client::open(url)?;
        let conn = client.get_multiplexed_async_connection().await?;
        Ok(Self {
            conn,
            prefix: prefix.to_owned(),
            apply: redis::Script::new(APPLY),
        })
    }

    fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.prefix)
    }

    /// Counts a handler call as begun (durably, before its effect).
    pub async fn begin(&self) -> Result<(), StepError> {
        let mut conn = self.conn.clone();
        conn.incr::<_, _, u64>(self.key("begun"), 1)
            .await
            .map(drop)
            .map_err(|e| transient(&e))
    }

    /// How many handler calls have begun, in every process.
    pub async fn begun(&self) -> u64 {
        let mut conn = self.conn.clone();
        conn.get::<_, Option<u64>>(self.key("begun"))
            .await
            .ok()
            .flatten()
            .unwrap_or(0)
    }

    /// Applies the effect of `key` once, whichever process asks and however often.
    pub async fn apply(&self, key: IdempotencyKey) -> Result<(), StepError> {
        let mut conn = self.conn.clone();
        self.apply
            .key(self.key("effects"))
            .key(self.key("runs"))
            .key(self.key("applied"))
            .arg(key.to_string())
            .arg(std::process::id())
            .invoke_async::<i64>(&mut conn)
            .await
            .map(drop)
            .map_err(|e| transient(&e))
    }

    /// Reads the ledger back.
    pub async fn audit(&self) -> Audit {
        let mut conn = self.conn.clone();
        let keys: Vec<String> = conn.hkeys(self.key("effects")).await.expect("hkeys");
        let applied: u64 = conn.llen(self.key("applied")).await.expect("llen");
        let runs: Vec<u64> = conn.hvals(self.key("runs")).await.expect("hvals");
        Audit {
            keys: keys.into_iter().collect(),
            applied,
            runs: runs.iter().sum(),
        }
    }

    /// Deletes the ledger's keys.
    pub async fn delete(&self) {
        let mut conn = self.conn.clone();
        let keys = ["begun", "effects", "runs", "applied"].map(|k| self.key(k));
        let _: redis::RedisResult<u64> = conn.del(&keys).await;
    }
}
