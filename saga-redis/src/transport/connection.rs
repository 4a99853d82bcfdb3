//! A subscription's own connection and group: the dedicated blocking connection, joining (or
//! recreating) the consumer group, and the backoff between reconnection attempts.

use std::time::Duration;

use rand::Rng as _;
use redis::aio::MultiplexedConnection;
use redis::AsyncConnectionConfig;
use saga::transport::TransportError;

use super::config::RedisTransportConfig;
use super::keys::TopicKeys;
use super::scripts::SCRIPTS;
use super::shared::Shared;

/// Opens a dedicated connection whose response timeout exceeds the block time.
pub(crate) async fn connect(
    shared: &Shared,
    consumer: &str,
) -> Result<MultiplexedConnection, TransportError> {
    let config = &shared.config;
    let options = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(config.connect_timeout))
        .set_response_timeout(Some(config.block_time + config.response_timeout));
    let mut conn = match tokio::time::timeout(
        config.connect_timeout * 2,
        shared
            .client
            .get_multiplexed_async_connection_with_config(&options),
    )
    .await
    {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => return Err(shared.error(e, "connect")),
        Err(_) => {
            return Err(TransportError::Timeout {
                operation: "connect",
            })
        }
    };
    // Named after the consumer, so operators see which connection reads for whom.
    let name = format!("saga-reader-{consumer}");
    let set: redis::RedisResult<()> = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg(name)
        .query_async(&mut conn)
        .await;
    set.map_err(|e| shared.error(e, "connect"))?;
    Ok(conn)
}

/// Creates the group if it is missing (`XGROUP CREATE … $ MKSTREAM`) and renews its expiry.
pub(crate) async fn join(
    shared: &Shared,
    keys: &TopicKeys,
    group: &str,
    expiry_ms: u64,
) -> Result<bool, TransportError> {
    let created: u64 = shared
        .script(
            "join group",
            SCRIPTS
                .join
                .key(&keys.stream)
                .key(&keys.expiry)
                .key(keys.delayed(group))
                .arg(group)
                .arg(expiry_ms),
        )
        .await?;
    Ok(created == 1)
}

/// Exponential backoff with full jitter between the configured bounds.
pub(crate) fn backoff(config: &RedisTransportConfig, failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(20);
    let ceiling = config
        .backoff_min
        .saturating_mul(1 << exp)
        .min(config.backoff_max);
    let floor = config.backoff_min.as_secs_f64();
    let span = (ceiling.as_secs_f64() - floor).max(0.0);
    Duration::from_secs_f64(floor + span * rand::thread_rng().gen::<f64>())
}
