//! Messages on the wire: saga headers as AMQP string headers ([`Headers::to_pairs`] /
//! [`Headers::from_pairs`]), the transport's own headers, and the measurement of a received message
//! before anything in it is decoded.

use bytes::Bytes;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::BasicProperties;
use saga::transport::{Headers, Message, TransportError};

/// How many deliveries a message had before the transport republished it (a delayed requeue).
pub(crate) const H_DELIVERIES: &str = "saga-amqp-deliveries";
/// The delay level a delayed message is routed to (matched by the delay exchange).
pub(crate) const H_DELAY: &str = "saga-amqp-delay";
/// Unix time in ms before which a delayed message is not due (delays longer than the top level).
pub(crate) const H_NOT_BEFORE: &str = "saga-amqp-not-before";
/// The broker's count of earlier deliveries (quorum queues).
pub(crate) const X_DELIVERY_COUNT: &str = "x-delivery-count";

/// AMQP delivery mode of persistent messages.
const PERSISTENT: u8 = 2;

/// Whether a header is the transport's or the broker's, not the message's: never handed to
/// [`Headers::from_pairs`], never copied when the transport republishes a message.
pub(crate) fn is_envelope(name: &str) -> bool {
    name.starts_with("saga-amqp-")
        || name.starts_with("x-first-death-")
        || name.starts_with("x-last-death-")
        || matches!(name, "x-death" | "x-delivery-count" | "x-received-from")
}

/// A string header value.
pub(crate) fn text(value: impl Into<Vec<u8>>) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value))
}

/// An unsigned integer from any AMQP integer value.
pub(crate) fn integer(value: &AMQPValue) -> Option<u64> {
    match value {
        AMQPValue::ShortShortInt(v) => u64::try_from(*v).ok(),
        AMQPValue::ShortShortUInt(v) => Some(u64::from(*v)),
        AMQPValue::ShortInt(v) => u64::try_from(*v).ok(),
        AMQPValue::ShortUInt(v) => Some(u64::from(*v)),
        AMQPValue::LongInt(v) => u64::try_from(*v).ok(),
        AMQPValue::LongUInt(v) => Some(u64::from(*v)),
        AMQPValue::LongLongInt(v) => u64::try_from(*v).ok(),
        AMQPValue::Timestamp(v) => Some(*v),
        AMQPValue::LongString(s) => std::str::from_utf8(s.as_bytes()).ok()?.parse().ok(),
        _ => None,
    }
}

/// The properties of `message` as published: persistent, every saga header as a string header,
/// plus the transport's `envelope` headers.
///
/// # Errors
/// [`TransportError::Malformed`] for a header name longer than an AMQP short string (255 bytes).
pub(crate) fn properties(
    message: &Message,
    envelope: &[(&'static str, AMQPValue)],
) -> Result<BasicProperties, TransportError> {
    let mut table = FieldTable::default();
    for (name, value) in message.headers.to_pairs() {
        let len = name.len();
        let name = ShortString::try_new(name.into_owned()).map_err(|_| {
            TransportError::malformed(format_args!(
                "header name of {len} bytes is longer than 255 bytes"
            ))
        })?;
        table.insert(name, text(value));
    }
    for (name, value) in envelope {
        table.insert(ShortString::from(*name), value.clone());
    }
    Ok(persistent(table))
}

/// Persistent properties with these headers.
pub(crate) fn persistent(headers: FieldTable) -> BasicProperties {
    BasicProperties::default()
        .with_delivery_mode(PERSISTENT)
        .with_headers(headers)
}

/// The headers of a received message without the envelope, plus `extra` (a republished copy).
pub(crate) fn without_envelope(
    properties: &BasicProperties,
    extra: &[(&'static str, AMQPValue)],
) -> FieldTable {
    let mut table = FieldTable::default();
    if let Some(headers) = properties.headers() {
        for (name, value) in headers.inner() {
            if !is_envelope(name.as_str()) {
                table.insert(name.clone(), value.clone());
            }
        }
    }
    for (name, value) in extra {
        table.insert(ShortString::from(*name), value.clone());
    }
    table
}

/// An envelope header of a received message.
pub(crate) fn envelope_value<'a>(
    properties: &'a BasicProperties,
    name: &str,
) -> Option<&'a AMQPValue> {
    properties.headers().as_ref()?.inner().get(name)
}

/// Decodes a received message: measures it as [`Message::size`] would (every string header's name
/// and value that is not the envelope's, plus the payload) against `limit` **before** decoding
/// anything, then parses the headers with [`Headers::from_pairs`]. Headers that are not strings
/// (other publishers' numbers, tables) are not the saga's and are skipped.
///
/// # Errors
/// [`TransportError::MessageTooLarge`] or [`TransportError::Malformed`] (a header value that is not
/// UTF-8, or what `from_pairs` refuses); the caller dead-letters the message with it as the reason.
pub(crate) fn decode(
    properties: &BasicProperties,
    payload: Vec<u8>,
    limit: usize,
) -> Result<Message, (TransportError, Vec<u8>)> {
    match parse(properties, payload.len(), limit) {
        Ok(headers) => Ok(Message::with_headers(headers, Bytes::from(payload))),
        Err(e) => Err((e, payload)),
    }
}

fn parse(
    properties: &BasicProperties,
    payload_len: usize,
    limit: usize,
) -> Result<Headers, TransportError> {
    let strings = || {
        properties
            .headers()
            .iter()
            .flat_map(|t| t.inner().iter())
            .filter(|(name, _)| !is_envelope(name.as_str()))
            .filter_map(|(name, value)| match value {
                AMQPValue::LongString(s) => Some((name.as_str(), s.as_bytes())),
                AMQPValue::ShortString(s) => Some((name.as_str(), s.as_str().as_bytes())),
                _ => None,
            })
    };
    let size = strings().map(|(n, v)| n.len() + v.len()).sum::<usize>() + payload_len;
    if size > limit {
        return Err(TransportError::MessageTooLarge { size, limit });
    }
    let mut pairs = Vec::new();
    for (name, value) in strings() {
        let value = std::str::from_utf8(value)
            .map_err(|_| TransportError::malformed(format_args!("header {name:?} is not UTF-8")))?;
        pairs.push((name, value));
    }
    Headers::from_pairs(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use saga::transport::MessageKind;

    #[test]
    fn messages_round_trip_and_the_envelope_is_left_out() {
        let mut m = Message::new(MessageKind::Event, Bytes::from_static(b"x"));
        m.headers.insert("trace", "t1").expect("free-form");
        let props = properties(&m, &[(H_DELIVERIES, text("3"))]).expect("encodes");
        let back = decode(&props, b"x".to_vec(), m.size()).expect("decodes");
        assert_eq!(back, m);
        assert_eq!(
            envelope_value(&props, H_DELIVERIES).and_then(integer),
            Some(3)
        );
        assert!(matches!(
            decode(&props, b"x".to_vec(), m.size() - 1),
            Err((TransportError::MessageTooLarge { .. }, _))
        ));
        let copy = without_envelope(&props, &[]);
        assert!(!copy.contains_key(H_DELIVERIES) && copy.contains_key("trace"));
    }

    #[test]
    fn bad_headers_are_malformed() {
        let mut table = FieldTable::default();
        table.insert("saga-kind".into(), text("event"));
        assert!(matches!(
            decode(&persistent(table.clone()), Vec::new(), 1024),
            Err((TransportError::Malformed { .. }, _))
        ));
        table.insert("saga-message-id".into(), text(vec![0xff, 0xfe]));
        assert!(matches!(
            decode(&persistent(table), Vec::new(), 1024),
            Err((TransportError::Malformed { .. }, _))
        ));
        let mut m = Message::new(MessageKind::Event, Bytes::new());
        m.headers.insert("n".repeat(300), "v").expect("free-form");
        assert!(properties(&m, &[]).is_err());
    }
}
