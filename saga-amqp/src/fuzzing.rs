//! Fuzz entry points for this crate's decoder (feature `fuzzing`; not a stable API): the `cargo fuzz`
//! target `amqp_message` in `fuzz/` and the bounded proptest in `tests/fuzz.rs` call it.

use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use saga::testing::fuzz::FuzzInput;

use crate::wire;

/// A received message from arbitrary bytes (a size limit, header pairs of several AMQP types, a
/// payload): decoding never panics, and nothing over the limit is ever decoded into a message.
///
/// # Panics
/// When that does not hold (the fuzzer's finding).
pub fn message(data: &[u8]) {
    let mut input = FuzzInput::new(data);
    let limit = usize::from(input.u16());
    let payload = input.long().to_vec();
    let mut table = FieldTable::default();
    for (name, value) in input.pairs(1024) {
        let Ok(name) = ShortString::try_new(String::from_utf8_lossy(name).into_owned()) else {
            continue;
        };
        let value = match value.first().copied().unwrap_or(0) % 4 {
            0 => AMQPValue::LongString(LongString::from(value.to_vec())),
            1 => AMQPValue::LongLongInt(i64::try_from(value.len()).unwrap_or(0)),
            2 => AMQPValue::Boolean(value.len() % 2 == 0),
            _ => AMQPValue::LongString(LongString::from(
                String::from_utf8_lossy(value).into_owned(),
            )),
        };
        table.insert(name, value);
    }
    let properties = wire::persistent(table);
    if let Ok(message) = wire::decode(&properties, payload, limit) {
        assert!(
            message.size() <= limit,
            "a message over the limit was decoded"
        );
    }
}
