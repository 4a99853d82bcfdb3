//! No credential reaches a log line: every field of every `tracing` event and span (this crate's and
//! sqlx's, at every level) is recorded while PostgreSQL and MySQL logs fail to connect with a
//! password in their URL (a closed port, and the real server refusing it). Its own test binary, with a
//! global subscriber.
#![cfg_attr(
    not(any(feature = "postgres", feature = "mysql")),
    allow(dead_code, unused_imports)
)]

mod common;

use saga::testing::CapturedLogs;
use saga_sqlx::SqlLogConfig;

const ENCODED: &str = "p%40ss%3Aw%2Frd%23%25%21";
const SECRETS: [&str; 4] = [ENCODED, "p@ss:w/rd#%!", "p@ss", "p%40ss"];

fn config() -> SqlLogConfig {
    SqlLogConfig::default()
        .with_table_prefix(common::prefix())
        .with_acquire_timeout(std::time::Duration::from_secs(3))
}

fn with_password(url: &str) -> String {
    let mut u = url::Url::parse(url).expect("test url");
    let _ = u.set_username("nobody");
    let _ = u.set_password(Some(ENCODED));
    u.to_string()
}

fn assert_hidden(shown: &str) {
    for secret in SECRETS {
        assert!(!shown.contains(secret), "{secret:?} shown in {shown}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_never_reach_the_logs() {
    let logs = CapturedLogs::default();
    tracing::subscriber::set_global_default(logs.clone()).expect("the only subscriber");
    #[cfg(feature = "postgres")]
    for url in [
        format!("postgres://app:{ENCODED}@127.0.0.1:1/test"),
        with_password(&common::postgres_url()),
    ] {
        match saga_sqlx::PostgresSagaLog::connect(&url, config()).await {
            Err(e) => assert_hidden(&format!("{e} {e:?}")),
            Ok(log) => {
                assert_hidden(&format!("{log:?}"));
                log.drop_tables().await.expect("drop");
            }
        }
    }
    #[cfg(feature = "mysql")]
    for url in [
        format!("mysql://app:{ENCODED}@127.0.0.1:1/test"),
        with_password(&common::mysql_url()),
    ] {
        match saga_sqlx::MySqlSagaLog::connect(&url, config()).await {
            Err(e) => assert_hidden(&format!("{e} {e:?}")),
            Ok(log) => {
                assert_hidden(&format!("{log:?}"));
                log.drop_tables().await.expect("drop");
            }
        }
    }
    logs.assert_free_of(&SECRETS);
}
