//! Credentials never appear in errors or `Debug` output: a password with special characters against a
//! closed port and against the real broker (which refuses it), and typed configuration errors.

mod common;

use std::time::Duration;

use saga_amqp::{AmqpConfig, AmqpTransport, Error};

/// `p@ss:w/rd#%!`, percent-encoded as an AMQP URL must carry it.
const ENCODED: &str = "p%40ss%3Aw%2Frd%23%25%21";

fn assert_hidden(shown: &str) {
    for secret in [ENCODED, "p@ss", "w/rd", "p%40ss"] {
        assert!(!shown.contains(secret), "{secret:?} shown in {shown}");
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

#[tokio::test]
async fn a_closed_port_is_a_transient_connect_error_without_the_password() {
    let url = format!("amqp://app:{ENCODED}@127.0.0.1:{}/%2f", free_port());
    let config = AmqpConfig::default().with_connect_timeout(Duration::from_secs(2));
    let err = AmqpTransport::connect(&url, config)
        .await
        .expect_err("nothing listens there");
    let shown = format!("{err} {err:?}");
    assert!(matches!(err, Error::Connect { .. }), "{shown}");
    assert!(err.is_transient(), "{shown}");
    assert!(shown.contains("amqp://app:***@127.0.0.1"), "{shown}");
    assert_hidden(&shown);
}

#[tokio::test]
async fn the_broker_refuses_a_wrong_password_and_it_is_not_shown() {
    let good = common::amqp_url();
    let Some(probe) = common::transport(common::config()).await else {
        return;
    };
    let debug = format!("{probe:?}");
    assert!(!debug.contains(":guest@"), "{debug}");
    assert!(debug.contains(":***@"), "{debug}");
    common::cleanup(&probe).await;
    let Ok(mut parsed) = url::Url::parse(&good) else {
        panic!("SAGA_TEST_AMQP_URL does not parse");
    };
    let _ = parsed.set_username("guest");
    let _ = parsed.set_password(Some(ENCODED));
    let wrong = parsed.to_string();
    let err = AmqpTransport::connect(&wrong, common::config())
        .await
        .expect_err("a wrong password is refused");
    let shown = format!("{err} {err:?}");
    assert!(matches!(err, Error::Connect { .. }), "{shown}");
    assert!(!err.is_transient(), "a refused login is permanent: {shown}");
    assert_hidden(&shown);
}

#[tokio::test]
async fn bad_settings_are_typed_errors() {
    let url = "amqp://u:secret@127.0.0.1:1/%2f";
    let err = AmqpTransport::connect(url, AmqpConfig::default().with_prefix("Bad Prefix"))
        .await
        .expect_err("invalid prefix");
    assert!(matches!(err, Error::InvalidPrefix { .. }), "{err:?}");
    let err = AmqpTransport::connect(url, AmqpConfig::default().with_prefetch(0))
        .await
        .expect_err("invalid prefetch");
    assert!(
        matches!(
            err,
            Error::InvalidConfig {
                setting: "prefetch",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!format!("{err:?}").contains("secret"));
    assert_eq!(saga_amqp::redact_url(url), "amqp://u:***@127.0.0.1:1/%2f");
}
