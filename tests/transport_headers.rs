//! Headers read from a broker's string pairs: saga id, step, direction and the idempotency key must agree
//! with each other, one test per way they can disagree.

use saga::transport::{Headers, MessageId, TransportError};
use saga::{Direction, IdempotencyKey, SagaId};

/// Parses a command's pairs: a message id, the kind, and `saga` (name, value) pairs.
fn parse(saga: &[(&str, &str)]) -> Result<Headers, TransportError> {
    let id = MessageId::new().to_string();
    let mut pairs = vec![("saga-message-id", id.as_str()), ("saga-kind", "command")];
    pairs.extend_from_slice(saga);
    Headers::from_pairs(pairs)
}

/// Asserts that `saga` is refused as malformed, with a reason naming `what`.
fn assert_malformed(saga: &[(&str, &str)], what: &str) {
    match parse(saga) {
        Err(TransportError::Malformed { reason }) => {
            assert!(reason.contains(what), "{reason:?} does not name {what:?}");
            assert!(reason.len() <= 256, "reason of {} bytes", reason.len());
        }
        Ok(h) => panic!("inconsistent headers accepted as {h:?}"),
        Err(e) => panic!("unexpected error {e}"),
    }
}

struct Step {
    saga: String,
    other_saga: String,
    key: String,
}

fn step() -> Step {
    let saga = SagaId::new();
    Step {
        saga: saga.to_string(),
        other_saga: SagaId::new().to_string(),
        key: IdempotencyKey::new(saga, 1, Direction::Forward).to_string(),
    }
}

#[test]
fn consistent_headers_parse() {
    let s = step();
    let full = parse(&[
        ("saga-id", &s.saga),
        ("saga-step", "1"),
        ("saga-direction", "forward"),
        ("saga-idempotency-key", &s.key),
    ])
    .expect("all four");
    assert_eq!(full.idempotency_key().map(|k| k.to_string()), Some(s.key));
    let saga_only = parse(&[("saga-id", &s.saga)]).expect("an event's saga id");
    assert_eq!(saga_only.step, None);
    parse(&[]).expect("no saga headers at all");
}

/// One `#[test]` per shape: `name: |s| [pairs] => what the reason names;`, `s` being a fresh [`step`].
macro_rules! malformed {
    ($($name:ident: |$s:ident| [$($pair:expr),*] => $what:expr;)*) => {$(
        #[test]
        fn $name() {
            #[allow(unused_variables)]
            let $s = step();
            assert_malformed(&[$($pair),*], $what);
        }
    )*};
}

malformed! {
    an_idempotency_key_does_not_override_a_saga_id_without_step_and_direction: |s|
        [("saga-id", &s.other_saga), ("saga-idempotency-key", &s.key)]
        => "saga-idempotency-key without";
    an_idempotency_key_without_a_direction_is_malformed: |s|
        [("saga-id", &s.saga), ("saga-step", "1"), ("saga-idempotency-key", &s.key)]
        => "saga-step without saga-direction";
    an_idempotency_key_without_a_saga_id_is_malformed: |s|
        [("saga-step", "1"), ("saga-direction", "forward"), ("saga-idempotency-key", &s.key)]
        => "without saga-id";
    an_idempotency_key_alone_is_malformed: |s|
        [("saga-idempotency-key", &s.key)]
        => "saga-idempotency-key without";
    an_idempotency_key_naming_another_saga_is_malformed: |s|
        [("saga-id", &s.other_saga), ("saga-step", "1"), ("saga-direction", "forward"),
         ("saga-idempotency-key", &s.key)]
        => "disagrees";
    an_idempotency_key_naming_another_step_is_malformed: |s|
        [("saga-id", &s.saga), ("saga-step", "2"), ("saga-direction", "forward"),
         ("saga-idempotency-key", &s.key)]
        => "disagrees";
    an_idempotency_key_naming_another_direction_is_malformed: |s|
        [("saga-id", &s.saga), ("saga-step", "1"), ("saga-direction", "compensate"),
         ("saga-idempotency-key", &s.key)]
        => "disagrees";
    a_step_without_a_direction_is_malformed: |s|
        [("saga-id", &s.saga), ("saga-step", "1")]
        => "saga-step without saga-direction";
    a_direction_without_a_step_is_malformed: |s|
        [("saga-id", &s.saga), ("saga-direction", "forward")]
        => "saga-direction without saga-step";
    a_step_and_direction_without_a_saga_id_are_malformed: |s|
        [("saga-step", "1"), ("saga-direction", "forward")]
        => "without saga-id";
}
