//! Declaring the topology: the three exchanges, a group's queue and dead-letter queue with their
//! bindings, and the delay levels. Every declaration is idempotent, so it is simply repeated after a
//! reconnect.

use std::time::Duration;

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{Channel, ExchangeKind};

use crate::config::{AmqpConfig, QueueType};
use crate::names::{GroupNames, Names};
use crate::wire::{text, H_DELAY};

/// Declares `<prefix>.topics` (topic), `<prefix>.dead-letter` (direct) and `<prefix>.delay`
/// (headers), all durable.
pub(crate) async fn declare_exchanges(channel: &Channel, names: &Names) -> lapin::Result<()> {
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    for (name, kind) in [
        (&names.topics, ExchangeKind::Topic),
        (&names.dead_letters, ExchangeKind::Direct),
        (&names.delays, ExchangeKind::Headers),
    ] {
        channel
            .exchange_declare(name.as_str().into(), kind, durable, FieldTable::default())
            .await?;
    }
    Ok(())
}

fn durable() -> QueueDeclareOptions {
    QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    }
}

fn put(table: &mut FieldTable, name: &str, value: AMQPValue) {
    table.insert(ShortString::from(name), value);
}

fn millis(d: Duration) -> AMQPValue {
    AMQPValue::LongLongInt(i64::try_from(d.as_millis()).unwrap_or(i64::MAX).max(1))
}

/// The arguments every queue of the transport gets: its type and, for an expiring group, `x-expires`.
fn base_args(config: &AmqpConfig, expire_after: Option<Duration>) -> FieldTable {
    let mut args = FieldTable::default();
    put(&mut args, "x-queue-type", text(config.queue_type.as_str()));
    if let Some(idle) = expire_after {
        put(&mut args, "x-expires", millis(idle));
    }
    args
}

/// Declares the queue of a group (dead-lettering to `<prefix>.dead-letter` with its own name as the
/// routing key; on quorum queues with the delivery limit and at-least-once dead-lettering), binds it
/// to the topic, and declares and binds its dead-letter queue.
pub(crate) async fn declare_group(
    channel: &Channel,
    config: &AmqpConfig,
    names: &Names,
    group: &GroupNames,
    expire_after: Option<Duration>,
) -> lapin::Result<()> {
    let mut args = base_args(config, expire_after);
    put(
        &mut args,
        "x-dead-letter-exchange",
        text(names.dead_letters.as_str()),
    );
    put(
        &mut args,
        "x-dead-letter-routing-key",
        text(group.queue.as_str()),
    );
    if config.queue_type == QueueType::Quorum {
        let limit = i64::from(config.delivery_limit);
        put(&mut args, "x-delivery-limit", AMQPValue::LongLongInt(limit));
        put(&mut args, "x-dead-letter-strategy", text("at-least-once"));
        put(&mut args, "x-overflow", text("reject-publish"));
    }
    channel
        .queue_declare(group.queue.as_str().into(), durable(), args)
        .await?;
    channel
        .queue_declare(
            group.dead_letter_queue.as_str().into(),
            durable(),
            base_args(config, expire_after),
        )
        .await?;
    let bind = |queue: &str, exchange: &str, key: &str| {
        channel.queue_bind(
            queue.into(),
            exchange.into(),
            key.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
    };
    bind(&group.dead_letter_queue, &names.dead_letters, &group.queue).await?;
    bind(&group.queue, &names.topics, &group.topic).await?;
    Ok(())
}

/// Declares delay level `level`: a queue whose messages expire after `2^level` ms and are then
/// dead-lettered through the default exchange with the routing key they were published with (the
/// group queue's name), bound to the delay exchange by the `saga-amqp-delay` header.
pub(crate) async fn declare_delay(
    channel: &Channel,
    config: &AmqpConfig,
    names: &Names,
    level: u32,
) -> lapin::Result<()> {
    let queue = names.delay_queue(level);
    let mut args = base_args(config, None);
    put(
        &mut args,
        "x-message-ttl",
        AMQPValue::LongLongInt(1 << level),
    );
    put(&mut args, "x-dead-letter-exchange", text(""));
    if config.queue_type == QueueType::Quorum {
        put(&mut args, "x-dead-letter-strategy", text("at-least-once"));
        put(&mut args, "x-overflow", text("reject-publish"));
    }
    channel
        .queue_declare(queue.as_str().into(), durable(), args)
        .await?;
    let mut binding = FieldTable::default();
    put(&mut binding, "x-match", text("all"));
    put(&mut binding, H_DELAY, text(level.to_string()));
    channel
        .queue_bind(
            queue.as_str().into(),
            names.delays.as_str().into(),
            "".into(),
            QueueBindOptions::default(),
            binding,
        )
        .await
}
