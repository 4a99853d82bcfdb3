//! A `connect` that fails says why (connection refused, wrong password, unknown user or database)
//! instead of "pool timed out", and still shows no password.

mod common;

use saga_sqlx::{Error, SqlLogConfig};

#[cfg(any(feature = "postgres", feature = "mysql"))]
/// `base` (a test URL) with its userinfo replaced by `userinfo` and, if given, its database by `db`.
fn url(base: &str, userinfo: &str, db: Option<&str>) -> String {
    let (scheme, rest) = base.split_once("://").expect("a URL");
    let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let host = match db {
        Some(db) => format!("{}/{db}", host.split('/').next().unwrap_or_default()),
        None => host.to_owned(),
    };
    format!("{scheme}://{userinfo}@{host}")
}

/// `result` is a connect error whose message contains one of `causes` (any case), not the password
/// `Hidden-pw1` and not a pool timeout.
fn assert_cause<T>(result: saga_sqlx::Result<T>, causes: &[&str], transient: bool) {
    let Err(err) = result else {
        panic!("the connect succeeded");
    };
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    let shown = format!("{err} {err:?}");
    let lower = shown.to_lowercase();
    assert!(
        causes.iter().any(|c| lower.contains(&c.to_lowercase())),
        "no cause among {causes:?} in {shown}"
    );
    assert!(!lower.contains("timed out"), "{shown}");
    assert!(!shown.contains("Hidden-pw1"), "{shown}");
    assert_eq!(err.is_transient(), transient, "{shown}");
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
fn unique() -> String {
    format!("nobody_{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_connect_errors_name_their_cause() {
    let connect =
        async |url: &str| saga_sqlx::PostgresSagaLog::connect(url, SqlLogConfig::default()).await;
    assert_cause(
        connect("postgres://postgres:Hidden-pw1@127.0.0.1:1/test").await,
        &["refused"],
        true,
    );
    let base = common::postgres_url();
    if common::postgres(SqlLogConfig::default().with_migrations(false))
        .await
        .is_none()
    {
        return;
    }
    // Trust authentication takes any password, so the server's refusals are an unknown role and an
    // unknown database.
    let user = format!("{}:Hidden-pw1", unique());
    assert_cause(
        connect(&url(&base, &user, None)).await,
        &["does not exist"],
        false,
    );
    let db = unique();
    assert_cause(
        connect(&url(&base, "postgres:Hidden-pw1", Some(&db))).await,
        &["does not exist"],
        false,
    );
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn mysql_connect_errors_name_their_cause() {
    let connect =
        async |url: &str| saga_sqlx::MySqlSagaLog::connect(url, SqlLogConfig::default()).await;
    assert_cause(
        connect("mysql://root:Hidden-pw1@127.0.0.1:1/test").await,
        &["refused"],
        true,
    );
    let base = common::mysql_url();
    if common::mysql(SqlLogConfig::default().with_migrations(false))
        .await
        .is_none()
    {
        return;
    }
    // root exists with an empty password: any other is wrong; an unknown user is refused too.
    assert_cause(
        connect(&url(&base, "root:Hidden-pw1", None)).await,
        &["access denied"],
        false,
    );
    let user = format!("{}:Hidden-pw1", unique());
    assert_cause(
        connect(&url(&base, &user, None)).await,
        &["access denied"],
        false,
    );
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_connect_errors_name_their_cause() {
    let dir = common::TempDir::new();
    let missing = dir.path.join("no-such-dir").join("saga.db");
    assert_cause(
        saga_sqlx::SqliteSagaLog::connect(
            &format!("sqlite://{}", missing.display()),
            SqlLogConfig::default(),
        )
        .await,
        &["unable to open"],
        false,
    );
}
