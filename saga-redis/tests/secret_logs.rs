//! No credential reaches a log line: every field of every `tracing` event and span (this crate's and
//! redis-rs's, at every level) is recorded while the log and the transport fail to connect with a
//! password in their URL, and while the server refuses one. Its own test binary, with a global
//! subscriber.

mod common;

use saga::testing::CapturedLogs;
use saga_redis::{RedisLogConfig, RedisSagaLog, RedisTransport, RedisTransportConfig};

const ENCODED: &str = "p%40ss%3Aw%2Frd%23%25%21";
const SECRETS: [&str; 4] = [ENCODED, "p@ss:w/rd#%!", "p@ss", "p%40ss"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_never_reach_the_logs() {
    let logs = CapturedLogs::default();
    tracing::subscriber::set_global_default(logs.clone()).expect("the only subscriber");
    // Nothing listens on port 1.
    let closed = format!("redis://app:{ENCODED}@127.0.0.1:1/0");
    let log_err = RedisSagaLog::connect(&closed, RedisLogConfig::default().with_connect_retries(0))
        .await
        .expect_err("nothing listens there");
    let transport = RedisTransport::connect(
        RedisTransportConfig::new(&closed).with_key_prefix(common::prefix()),
    )
    .await;
    let transport_err = transport.err().map(|e| format!("{e} {e:?}"));
    // The real server: it has no password (or another one), so it refuses or ignores this one.
    let refused = common::redis_url().replacen("://", &format!("://nobody:{ENCODED}@"), 1);
    let server = RedisSagaLog::connect(&refused, common::config()).await;
    let server_shown = match &server {
        Ok(log) => format!("{log:?}"),
        Err(e) => format!("{e} {e:?}"),
    };
    if let Ok(log) = server {
        common::cleanup(&log).await;
    }
    for shown in [format!("{log_err} {log_err:?}"), server_shown]
        .into_iter()
        .chain(transport_err)
    {
        for secret in SECRETS {
            assert!(!shown.contains(secret), "{secret:?} shown in {shown}");
        }
    }
    logs.assert_free_of(&SECRETS);
}
