//! Opening a service's database on each backend, with the inbox of that database.
//!
//! The inbox comes from a saga log opened on the service's own pool (`with_pool` + `migrate`, table
//! prefix `cm_`): that log is never used for sagas, it only creates the inbox table next to the
//! service's tables, so the business write and the key share one transaction.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use saga_sqlx::sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use saga_sqlx::sqlx::{self, Sqlite};
use saga_sqlx::{Inbox, SqlLogConfig, SqliteSagaLog};

use super::{db_name, DbError, DbSpec};
use crate::cloudmart::services::Service;

/// The inbox tables' prefix in every service database.
const INBOX_PREFIX: &str = "cm_";

fn inbox_config() -> SqlLogConfig {
    SqlLogConfig::default()
        .with_table_prefix(INBOX_PREFIX)
        .without_batching()
}

/// A backend's pool and inbox.
#[derive(Debug, Clone)]
pub(super) enum Pool {
    Sqlite {
        pool: SqlitePool,
        inbox: Inbox<Sqlite>,
        file: Option<PathBuf>,
    },
    #[cfg(feature = "postgres")]
    Postgres {
        pool: sqlx::PgPool,
        inbox: Inbox<sqlx::Postgres>,
        schema: String,
    },
    #[cfg(feature = "mysql")]
    MySql {
        pool: sqlx::MySqlPool,
        inbox: Inbox<sqlx::MySql>,
        database: String,
    },
}

/// A transaction with the inbox of its database.
pub(super) enum Begun {
    Sqlite(sqlx::Transaction<'static, Sqlite>, Inbox<Sqlite>),
    #[cfg(feature = "postgres")]
    Postgres(
        sqlx::Transaction<'static, sqlx::Postgres>,
        Inbox<sqlx::Postgres>,
    ),
    #[cfg(feature = "mysql")]
    MySql(sqlx::Transaction<'static, sqlx::MySql>, Inbox<sqlx::MySql>),
}

impl Pool {
    pub(super) async fn open(spec: &DbSpec, name: &str, service: Service) -> Result<Self, DbError> {
        match spec {
            DbSpec::Memory => Self::sqlite(None).await,
            DbSpec::Dir(dir) => {
                let file = dir.join(format!("{name}-{}.db", service.as_str()));
                Self::sqlite(Some(file)).await
            }
            DbSpec::Server(url) => {
                let db = db_name(name, service);
                match url.split("://").next().unwrap_or_default() {
                    #[cfg(feature = "postgres")]
                    "postgres" | "postgresql" => Self::postgres(url, db).await,
                    #[cfg(feature = "mysql")]
                    "mysql" | "mariadb" => Self::mysql(url, db).await,
                    _ => Err(DbError::Unsupported(crate::cloudmart::logs::redact(url))),
                }
            }
        }
    }

    /// One connection (SQLite has one writer; an in-memory database lives as long as its connection),
    /// WAL mode, a busy timeout.
    async fn sqlite(file: Option<PathBuf>) -> Result<Self, DbError> {
        let options = match &file {
            Some(path) => SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal),
            None => SqliteConnectOptions::from_str("sqlite::memory:")?,
        }
        .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        let log = SqliteSagaLog::with_pool(pool.clone(), &inbox_config())?;
        log.migrate().await?;
        Ok(Self::Sqlite {
            inbox: log.inbox("cloudmart"),
            pool,
            file,
        })
    }

    #[cfg(feature = "postgres")]
    async fn postgres(url: &str, schema: String) -> Result<Self, DbError> {
        use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
        use sqlx::Connection as _;
        let options = PgConnectOptions::from_str(url)?;
        let mut admin = sqlx::PgConnection::connect_with(&options).await?;
        sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {schema}"))
            .execute(&mut admin)
            .await?;
        admin.close().await?;
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .connect_with(options.options([("search_path", schema.as_str())]))
            .await?;
        let log = saga_sqlx::PostgresSagaLog::with_pool(pool.clone(), &inbox_config())?;
        log.migrate().await?;
        Ok(Self::Postgres {
            inbox: log.inbox("cloudmart"),
            pool,
            schema,
        })
    }

    #[cfg(feature = "mysql")]
    async fn mysql(url: &str, database: String) -> Result<Self, DbError> {
        use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
        use sqlx::Connection as _;
        let options = MySqlConnectOptions::from_str(url)?;
        let mut admin = sqlx::MySqlConnection::connect_with(&options).await?;
        sqlx::query(&format!("CREATE DATABASE IF NOT EXISTS {database}"))
            .execute(&mut admin)
            .await?;
        admin.close().await?;
        let pool = MySqlPoolOptions::new()
            .max_connections(2)
            .connect_with(options.database(&database))
            .await?;
        let log = saga_sqlx::MySqlSagaLog::with_pool(pool.clone(), &inbox_config())?;
        log.migrate().await?;
        Ok(Self::MySql {
            inbox: log.inbox("cloudmart"),
            pool,
            database,
        })
    }

    pub(super) async fn begin(&self) -> Result<Begun, DbError> {
        Ok(match self {
            Self::Sqlite { pool, inbox, .. } => Begun::Sqlite(pool.begin().await?, inbox.clone()),
            #[cfg(feature = "postgres")]
            Self::Postgres { pool, inbox, .. } => {
                Begun::Postgres(pool.begin().await?, inbox.clone())
            }
            #[cfg(feature = "mysql")]
            Self::MySql { pool, inbox, .. } => Begun::MySql(pool.begin().await?, inbox.clone()),
        })
    }

    pub(super) const fn for_update(&self) -> &'static str {
        match self {
            Self::Sqlite { .. } => "",
            #[cfg(any(feature = "postgres", feature = "mysql"))]
            _ => " FOR UPDATE",
        }
    }

    pub(super) async fn close(&self) {
        match self {
            Self::Sqlite { pool, .. } => pool.close().await,
            #[cfg(feature = "postgres")]
            Self::Postgres { pool, .. } => pool.close().await,
            #[cfg(feature = "mysql")]
            Self::MySql { pool, .. } => pool.close().await,
        }
    }

    pub(super) async fn destroy(&self) -> Result<(), DbError> {
        match self {
            Self::Sqlite { pool, file, .. } => {
                pool.close().await;
                if let Some(path) = file {
                    for suffix in ["", "-wal", "-shm"] {
                        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                    }
                }
            }
            #[cfg(feature = "postgres")]
            Self::Postgres { pool, schema, .. } => {
                sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                    .execute(pool)
                    .await?;
                pool.close().await;
            }
            #[cfg(feature = "mysql")]
            Self::MySql { pool, database, .. } => {
                sqlx::query(&format!("DROP DATABASE IF EXISTS {database}"))
                    .execute(pool)
                    .await?;
                pool.close().await;
            }
        }
        Ok(())
    }
}
