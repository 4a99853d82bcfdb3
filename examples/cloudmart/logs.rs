//! Opening the saga log named by `--log`.

use std::sync::Arc;

use saga::SagaLog;

use crate::cloudmart::error::AppError;

/// An open saga log and what to do with it at the end.
pub struct OpenLog {
    /// The log.
    pub log: Arc<dyn SagaLog>,
    /// How to show it (no credentials).
    pub display: String,
    /// Drops the run's tables (server databases, where each run uses its own table prefix).
    #[allow(clippy::type_complexity)]
    pub cleanup: Option<Box<dyn FnOnce() -> futures::future::BoxFuture<'static, ()> + Send>>,
}

impl std::fmt::Debug for OpenLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenLog")
            .field("display", &self.display)
            .finish_non_exhaustive()
    }
}

/// Opens `url`: `memory`, `sqlite://PATH`, `postgres://…` (feature `postgres`), `mysql://…` (feature
/// `mysql`). Server logs use the table prefix `prefix`.
///
/// # Errors
/// [`AppError::Usage`] for an unknown scheme or a missing feature; [`AppError::Log`] if the connection
/// or the migrations fail.
pub async fn open(url: &str, prefix: &str) -> Result<OpenLog, AppError> {
    if url == "memory" {
        return Ok(OpenLog {
            log: Arc::new(saga::InMemoryLog::new()),
            display: "memory".into(),
            cleanup: None,
        });
    }
    let scheme = url.split("://").next().unwrap_or_default();
    match scheme {
        "sqlite" => open_sqlite(url).await,
        "postgres" | "postgresql" => open_postgres(url, prefix).await,
        "mysql" | "mariadb" => open_mysql(url, prefix).await,
        _ => Err(AppError::Usage(format!(
            "unsupported --log {:?}: expected sqlite://PATH, postgres://…, mysql://… or memory",
            redact(url)
        ))),
    }
}

/// `url` with any password replaced by `***`.
#[must_use]
pub fn redact(url: &str) -> String {
    #[cfg(feature = "sqlx")]
    {
        saga_sqlx::redact_url(url)
    }
    #[cfg(not(feature = "sqlx"))]
    {
        match (url.find("://"), url.rfind('@')) {
            (Some(s), Some(at)) if at > s => format!("{}://***{}", &url[..s], &url[at..]),
            _ => url.to_owned(),
        }
    }
}

#[cfg(feature = "sqlx")]
async fn open_sqlite(url: &str) -> Result<OpenLog, AppError> {
    use saga_sqlx::{SqlLogConfig, SqliteSagaLog};
    let log = SqliteSagaLog::connect(url, SqlLogConfig::default())
        .await
        .map_err(|e| AppError::Log(e.to_string()))?;
    Ok(OpenLog {
        log: Arc::new(log),
        display: url.to_owned(),
        cleanup: None,
    })
}

#[cfg(not(feature = "sqlx"))]
async fn open_sqlite(_url: &str) -> Result<OpenLog, AppError> {
    Err(AppError::Usage(
        "the SQLite log needs the `sqlx` feature (on by default); rebuild without \
         --no-default-features, or pass --log memory"
            .into(),
    ))
}

/// The cleanup of a server log: drop the run's tables, reporting (not failing on) an error.
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn drop_tables<F, Fut>(
    drop: F,
) -> Box<dyn FnOnce() -> futures::future::BoxFuture<'static, ()> + Send>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = saga_sqlx::Result<()>> + Send + 'static,
{
    Box::new(move || {
        Box::pin(async move {
            if let Err(e) = drop().await {
                eprintln!("cleanup: {e}");
            }
        })
    })
}

#[cfg(feature = "postgres")]
async fn open_postgres(url: &str, prefix: &str) -> Result<OpenLog, AppError> {
    use saga_sqlx::{PostgresSagaLog, SqlLogConfig};
    let log = Arc::new(
        PostgresSagaLog::connect(url, SqlLogConfig::default().with_table_prefix(prefix))
            .await
            .map_err(|e| AppError::Log(e.to_string()))?,
    );
    Ok(OpenLog {
        log: log.clone(),
        display: format!("{} (table prefix {prefix})", redact(url)),
        cleanup: Some(drop_tables(move || {
            let log = Arc::clone(&log);
            async move { log.drop_tables().await }
        })),
    })
}

#[cfg(not(feature = "postgres"))]
async fn open_postgres(_url: &str, _prefix: &str) -> Result<OpenLog, AppError> {
    Err(AppError::Usage(
        "the PostgreSQL log needs the `postgres` feature: \
         cargo run --example cloudmart --features postgres -- --log postgres://…"
            .into(),
    ))
}

#[cfg(feature = "mysql")]
async fn open_mysql(url: &str, prefix: &str) -> Result<OpenLog, AppError> {
    use saga_sqlx::{MySqlSagaLog, SqlLogConfig};
    let log = Arc::new(
        MySqlSagaLog::connect(url, SqlLogConfig::default().with_table_prefix(prefix))
            .await
            .map_err(|e| AppError::Log(e.to_string()))?,
    );
    Ok(OpenLog {
        log: log.clone(),
        display: format!("{} (table prefix {prefix})", redact(url)),
        cleanup: Some(drop_tables(move || {
            let log = Arc::clone(&log);
            async move { log.drop_tables().await }
        })),
    })
}

#[cfg(not(feature = "mysql"))]
async fn open_mysql(_url: &str, _prefix: &str) -> Result<OpenLog, AppError> {
    Err(AppError::Usage(
        "the MySQL/MariaDB log needs the `mysql` feature: \
         cargo run --example cloudmart --features mysql -- --log mysql://…"
            .into(),
    ))
}
