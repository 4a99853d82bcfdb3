//! Helpers shared by the backend tests: URLs from the environment, skipping, isolation.
#![allow(dead_code, missing_docs)]

pub mod pg_server;

/// A free port on 127.0.0.1.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// `SAGA_TEST_POSTGRES_URL` or the local default.
pub fn postgres_url() -> String {
    std::env::var("SAGA_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// `SAGA_TEST_MYSQL_URL` or the local default.
pub fn mysql_url() -> String {
    std::env::var("SAGA_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_owned())
}

/// A random table prefix, so tests run in parallel against one database.
pub fn prefix() -> String {
    format!("t{}_", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// Prints the skip line and returns `None`, or panics when `SAGA_REQUIRE_BACKENDS=1`.
pub fn unreachable<T>(backend: &str, url: &str, error: &dyn std::fmt::Display) -> Option<T> {
    let shown = saga_sqlx::redact_url(url);
    if std::env::var("SAGA_REQUIRE_BACKENDS").is_ok_and(|v| v == "1") {
        panic!("{backend} unreachable at {shown} and SAGA_REQUIRE_BACKENDS=1: {error}");
    }
    println!("skipped: {backend} unreachable at {shown}");
    None
}

/// Whether a connect error means the server is not there (as opposed to a bug).
pub fn is_unreachable(e: &saga_sqlx::Error) -> bool {
    matches!(e, saga_sqlx::Error::Connect { .. })
}

#[cfg(feature = "postgres")]
pub async fn postgres(config: saga_sqlx::SqlLogConfig) -> Option<saga_sqlx::PostgresSagaLog> {
    let url = postgres_url();
    match saga_sqlx::PostgresSagaLog::connect(&url, config).await {
        Ok(log) => Some(log),
        Err(e) if is_unreachable(&e) => unreachable("postgres", &url, &e),
        Err(e) => panic!("postgres setup failed: {e}"),
    }
}

#[cfg(feature = "mysql")]
pub async fn mysql(config: saga_sqlx::SqlLogConfig) -> Option<saga_sqlx::MySqlSagaLog> {
    let url = mysql_url();
    match saga_sqlx::MySqlSagaLog::connect(&url, config).await {
        Ok(log) => Some(log),
        Err(e) if is_unreachable(&e) => unreachable("mysql", &url, &e),
        Err(e) => panic!("mysql setup failed: {e}"),
    }
}

/// A fresh SQLite file in a temp directory (kept alive by the returned guard).
#[cfg(feature = "sqlite")]
pub async fn sqlite(config: saga_sqlx::SqlLogConfig) -> (saga_sqlx::SqliteSagaLog, TempDir) {
    let dir = TempDir::new();
    let url = format!("sqlite://{}", dir.path.join("saga.db").display());
    let log = saga_sqlx::SqliteSagaLog::connect(&url, config)
        .await
        .expect("sqlite opens a new file");
    (log, dir)
}

/// A temporary directory removed on drop.
pub struct TempDir {
    pub path: std::path::PathBuf,
}

impl TempDir {
    pub fn new() -> Self {
        let path =
            std::env::temp_dir().join(format!("saga-sqlx-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path).expect("temp dir");
        Self { path }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Polls `fut` `polls` times (yielding to the runtime in between, so its I/O makes progress) and drops
/// it; `true` if it had not finished. Sweeping `polls` moves the cancellation point through the
/// future's progress at a finer grain than a timer could.
pub async fn drop_after_polls<F: std::future::Future>(fut: F, polls: usize) -> bool {
    let mut fut = Box::pin(fut);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    for _ in 0..polls {
        if fut.as_mut().poll(&mut cx).is_ready() {
            return false;
        }
        tokio::task::yield_now().await;
    }
    true
}
