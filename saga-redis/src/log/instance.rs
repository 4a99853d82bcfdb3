//! Decoding an instance hash and a saga's records into the log's types, every field checked.
//!
//! The instance hash `P:{P:k}:saga:<id>:inst` holds (all values decimal text unless noted):
//!
//! | field | what |
//! | --- | --- |
//! | `def` | definition name (text) |
//! | `dver` | definition version |
//! | `state` | `SagaState::as_str` |
//! | `version` | the `seq` of the last record |
//! | `owner` | the lease holder (absent once released) |
//! | `fence` | fencing token |
//! | `lease_until` | lease expiry, ms on the server clock; `0` when released |
//! | `deadline` | saga deadline, ms (absent when none) |
//! | `created`, `updated` | ms on the server clock |

use std::str::FromStr;

use saga::log::{LogRecord, SagaInstance, SagaSnapshot};
use saga::{LogError, SagaId, SagaState};

use super::codec;
use crate::error::corrupt;

/// The fields of an instance hash as `HGETALL` returned them.
pub(crate) type Fields = Vec<(Vec<u8>, Vec<u8>)>;

fn field<'a>(fields: &'a Fields, name: &str) -> Option<&'a [u8]> {
    fields
        .iter()
        .find(|(k, _)| k == name.as_bytes())
        .map(|(_, v)| v.as_slice())
}

fn text<'a>(id: SagaId, fields: &'a Fields, name: &str) -> Result<Option<&'a str>, LogError> {
    field(fields, name)
        .map(|v| std::str::from_utf8(v).map_err(|_| corrupt(id, format!("{name} is not UTF-8"))))
        .transpose()
}

fn number<T: FromStr>(id: SagaId, fields: &Fields, name: &str) -> Result<Option<T>, LogError> {
    text(id, fields, name)?
        .map(|v| {
            v.parse::<T>().map_err(|_| {
                let shown: String = v.chars().take(24).collect();
                corrupt(id, format!("{name} {shown:?} is not a number in range"))
            })
        })
        .transpose()
}

fn required<T>(id: SagaId, name: &str, value: Option<T>) -> Result<T, LogError> {
    value.ok_or_else(|| corrupt(id, format!("instance has no {name}")))
}

/// Whether the definition stored in `fields` is `definition` version `version` (false when unreadable).
pub(crate) fn is_definition(fields: &Fields, definition: &str, version: u32) -> bool {
    field(fields, "def") == Some(definition.as_bytes())
        && field(fields, "dver") == Some(version.to_string().as_bytes())
}

/// Decodes an instance hash.
pub(crate) fn decode(id: SagaId, fields: &Fields) -> Result<SagaInstance, LogError> {
    let definition = required(id, "def", text(id, fields, "def")?)?.to_owned();
    let state = required(id, "state", text(id, fields, "state")?)?;
    let state = SagaState::from_str(state).map_err(|e| corrupt(id, e.to_string()))?;
    // Validated although not part of the instance: a claim compares it with the server clock.
    number::<u64>(id, fields, "lease_until")?;
    Ok(SagaInstance::new(
        id,
        definition,
        required(id, "dver", number(id, fields, "dver")?)?,
        state,
    )
    .with_version(required(id, "version", number(id, fields, "version")?)?)
    .with_owner(text(id, fields, "owner")?.map(str::to_owned))
    .with_fence(required(id, "fence", number(id, fields, "fence")?)?)
    .with_deadline_at_ms(number(id, fields, "deadline")?)
    .with_created_at_ms(required(id, "created", number(id, fields, "created")?)?)
    .with_updated_at_ms(required(id, "updated", number(id, fields, "updated")?)?))
}

/// Decodes an instance and its stored records, checking that the records are exactly `1..=version`.
pub(crate) fn snapshot(
    id: SagaId,
    fields: &Fields,
    elements: &[Vec<u8>],
) -> Result<SagaSnapshot, LogError> {
    let instance = decode(id, fields)?;
    let records = elements
        .iter()
        .zip(1_u64..)
        .map(|(element, expected)| {
            let record: LogRecord = codec::decode(element)
                .map_err(|e| corrupt(id, format!("record {expected}: {e}")))?;
            if record.seq == expected {
                Ok(record)
            } else {
                Err(corrupt(
                    id,
                    format!("record {expected} has seq {}", record.seq),
                ))
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    if u64::try_from(records.len()).ok() != Some(instance.version) {
        return Err(corrupt(
            id,
            format!("version {} but {} records", instance.version, records.len()),
        ));
    }
    Ok(SagaSnapshot { instance, records })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        pairs
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect()
    }

    fn good() -> Vec<(&'static str, &'static str)> {
        vec![
            ("def", "order"),
            ("dver", "1"),
            ("state", "running"),
            ("version", "0"),
            ("owner", "a"),
            ("fence", "3"),
            ("lease_until", "0"),
            ("created", "5"),
            ("updated", "6"),
        ]
    }

    #[test]
    fn instances_decode_and_bad_fields_are_corrupt() {
        let id = SagaId::new();
        let inst = decode(id, &fields(&good())).expect("decodes");
        assert_eq!((inst.fence, inst.owner.as_deref()), (3, Some("a")));
        assert!(is_definition(&fields(&good()), "order", 1));
        assert!(!is_definition(&fields(&good()), "order", 2));
        for (name, bad) in [
            ("state", "exploded"),
            ("fence", "x"),
            ("version", "-1"),
            ("dver", "4294967296"),
            ("lease_until", "soon"),
        ] {
            let mut f = good();
            f.retain(|(k, _)| *k != name);
            f.push((name, bad));
            assert!(
                matches!(decode(id, &fields(&f)), Err(LogError::Corrupt { .. })),
                "{name}={bad}"
            );
        }
        let mut f = fields(&good());
        f.retain(|(k, _)| k != b"created");
        assert!(decode(id, &f).is_err(), "missing field");
        let mut f = fields(&good());
        f.push((b"owner".to_vec(), vec![0xff]));
        f.swap_remove(4);
        assert!(snapshot(id, &f, &[]).is_err(), "owner not UTF-8");
    }
}
