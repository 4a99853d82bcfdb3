//! Credentials never appear in `Debug` output or error messages, whatever characters the password has
//! and whether or not they are percent-encoded; table prefixes are validated.
#![cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]

mod common;

use std::time::Duration;

use saga_sqlx::{redact_url, Error, SqlLogConfig};

/// The characters that move URL boundaries or need encoding, and two non-ASCII ones.
const SPECIALS: [&str; 12] = [
    "/", "?", "#", "@", ":", "%", "+", "&", "=", " ", "é", "日本",
];
/// Two distinctive pieces around each special character: neither may be shown.
const PIECES: [&str; 2] = ["sEcr3t", "pAss0wrd"];

fn percent(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

/// `(as written in the URL, as meant)` for every special character, unencoded and encoded.
fn passwords() -> Vec<(String, String)> {
    let [a, b] = PIECES;
    SPECIALS
        .iter()
        .flat_map(|c| {
            let meant = format!("{a}{c}{b}");
            [
                (meant.clone(), meant.clone()),
                (format!("{a}{}{b}", percent(c)), meant),
            ]
        })
        .collect()
}

/// Nothing of the password is in `shown`.
fn assert_hidden(shown: &str, written: &str, meant: &str) {
    for needle in [written, meant].into_iter().chain(PIECES) {
        assert!(!shown.contains(needle), "{needle:?} shown in {shown}");
    }
}

/// Between `://` and the last `@` there is only `user`, `user:***` or `***`.
fn assert_only_user(shown: &str, user: &str) {
    let after = shown.split_once("://").map_or(shown, |(_, a)| a);
    if let Some(at) = after.rfind('@') {
        let userinfo = &after[..at];
        assert!(
            [user.to_owned(), format!("{user}:***"), "***".to_owned()]
                .contains(&userinfo.to_owned()),
            "userinfo {userinfo:?} in {shown}"
        );
    }
}

/// Every error and `Debug` a connect to `scheme://user:<password>@host/db` can produce, for every
/// password, against a closed port and the real server (where a wrong password fails and a trusting
/// server lets the log open), plus the password as a query parameter.
async fn check<L: std::fmt::Debug>(
    scheme: &str,
    base: &str,
    connect: impl AsyncFn(&str) -> saga_sqlx::Result<L>,
) {
    let (user, server) = base
        .split_once("://")
        .and_then(|(_, rest)| rest.rsplit_once('@'))
        .map(|(ui, hp)| (ui.split(':').next().unwrap_or_default(), hp))
        .expect("a test URL with a user");
    let (server, db) = server.split_once('/').expect("a test URL with a database");
    for (written, meant) in passwords() {
        let urls = [
            (
                format!("{scheme}://{user}:{written}@127.0.0.1:1/{db}"),
                true,
            ),
            (format!("{scheme}://{user}:{written}@{server}/{db}"), true),
            (
                format!("{scheme}://{user}@{server}/{db}?password={written}&sslpassword={written}"),
                false,
            ),
        ];
        for (url, userinfo) in urls {
            let mut shown = vec![redact_url(&url)];
            match connect(&url).await {
                Ok(log) => shown.push(format!("{log:?}")),
                Err(e) => {
                    shown.push(e.to_string());
                    shown.push(format!("{e:?}"));
                    let mut source = std::error::Error::source(&e);
                    while let Some(s) = source {
                        shown.push(s.to_string());
                        source = s.source();
                    }
                    if let Error::Connect { url, .. } = &e {
                        shown.push(url.clone());
                    }
                }
            }
            for text in &shown {
                assert_hidden(text, &written, &meant);
            }
            if userinfo {
                assert_only_user(&shown[0], user);
            }
        }
    }
}

fn config() -> SqlLogConfig {
    SqlLogConfig::default()
        .with_table_prefix(common::prefix())
        .with_migrations(false)
        .with_max_connections(1)
        .with_acquire_timeout(Duration::from_secs(1))
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_passwords_are_never_shown() {
    if common::postgres(config()).await.is_none() {
        return;
    }
    for scheme in ["postgres", "postgresql"] {
        check(scheme, &common::postgres_url(), async |url| {
            saga_sqlx::PostgresSagaLog::connect(url, config()).await
        })
        .await;
    }
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn mysql_passwords_are_never_shown() {
    if common::mysql(config()).await.is_none() {
        return;
    }
    check("mysql", &common::mysql_url(), async |url| {
        saga_sqlx::MySqlSagaLog::connect(url, config()).await
    })
    .await;
}

#[test]
fn redacted_forms() {
    let cases = [
        (
            "mysql://root:s3cr%40t@127.0.0.1:3306/test?password=x&ssl=1",
            "mysql://root:***@127.0.0.1:3306/test?password=***&ssl=1",
        ),
        ("sqlite://saga.db", "sqlite://saga.db"),
        ("sqlite::memory:", "sqlite::memory:"),
        (
            "postgres://postgres@127.0.0.1/test",
            "postgres://postgres@127.0.0.1/test",
        ),
        (
            "postgres://h/d?Api_Token=t&SSLPassWord=p&pwd=q&mode=1#f",
            "postgres://h/d?Api_Token=***&SSLPassWord=***&pwd=***&mode=1#***",
        ),
        // An unencoded `&` in a credential parameter.
        (
            "postgres://h/d?pass=abc&def&mode=1",
            "postgres://h/d?pass=***&***&mode=1",
        ),
        // An `@` after the authority: the password may hold a `/`, so nothing before it is shown.
        ("postgres://h/d?password=sec@ret", "postgres://***@***"),
        ("postgres://u:12/se@h/d", "postgres://u:***@h/d"),
        ("postgres://u:a/b@h/d", "postgres://***"),
        ("not a url", "***"),
    ];
    for (url, shown) in cases {
        assert_eq!(redact_url(url), shown, "{url}");
    }
}

#[test]
fn invalid_prefixes_are_typed_errors() {
    let err = SqlLogConfig::default()
        .with_table_prefix("app-1; DROP TABLE x")
        .validate()
        .expect_err("not an identifier");
    assert!(matches!(err, Error::InvalidTablePrefix { .. }), "{err:?}");
}

#[test]
fn config_debug_has_no_url() {
    let config = SqlLogConfig::default().with_table_prefix("app_");
    let debug = format!("{config:?}");
    assert!(debug.contains("app_") && !debug.contains("secret"));
}
