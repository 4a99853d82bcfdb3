//! A SQL log opened by the load generator on fresh tables, whichever backend the URL names, with what
//! the scaling and recovery phases need beyond `SagaLog`: its pool (to run SQL of their own), and
//! dropping its tables when done.

use std::sync::Arc;

use saga::SagaLog;
use saga_sqlx::sqlx;

use crate::runner::Args;

/// The SQL dialect of an opened log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    Postgres,
    #[cfg_attr(not(feature = "mysql"), allow(dead_code))]
    MySql,
}

/// A log on fresh tables (a new table prefix).
pub enum Opened {
    Lite(saga_sqlx::SqliteSagaLog),
    #[cfg(feature = "postgres")]
    Pg(saga_sqlx::PostgresSagaLog),
    #[cfg(feature = "mysql")]
    My(saga_sqlx::MySqlSagaLog),
}

/// Opens a log on fresh tables for `args.log`.
pub async fn open(args: &Args) -> Result<Opened, String> {
    let scheme = args.log.split("://").next().unwrap_or_default();
    match scheme {
        "sqlite" => Ok(Opened::Lite(super::lite::open(args).await?)),
        #[cfg(feature = "postgres")]
        "postgres" | "postgresql" => Ok(Opened::Pg(super::pg::open(args).await?)),
        #[cfg(feature = "mysql")]
        "mysql" | "mariadb" => Ok(Opened::My(super::my::open(args).await?)),
        other => Err(format!(
            "log scheme {other:?} is not enabled (features `postgres`/`mysql` add those)"
        )),
    }
}

impl Opened {
    /// The log, for the executor.
    pub fn log(&self) -> Arc<dyn SagaLog> {
        match self {
            Self::Lite(l) => Arc::new(l.clone()),
            #[cfg(feature = "postgres")]
            Self::Pg(l) => Arc::new(l.clone()),
            #[cfg(feature = "mysql")]
            Self::My(l) => Arc::new(l.clone()),
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Self::Lite(_) => Dialect::Sqlite,
            #[cfg(feature = "postgres")]
            Self::Pg(_) => Dialect::Postgres,
            #[cfg(feature = "mysql")]
            Self::My(_) => Dialect::MySql,
        }
    }

    pub fn table_prefix(&self) -> &str {
        match self {
            Self::Lite(l) => l.table_prefix(),
            #[cfg(feature = "postgres")]
            Self::Pg(l) => l.table_prefix(),
            #[cfg(feature = "mysql")]
            Self::My(l) => l.table_prefix(),
        }
    }

    /// Drops the log's tables (every load-generator phase cleans up what it created).
    pub async fn drop_tables(&self) -> Result<(), String> {
        let done = match self {
            Self::Lite(l) => l.drop_tables().await,
            #[cfg(feature = "postgres")]
            Self::Pg(l) => l.drop_tables().await,
            #[cfg(feature = "mysql")]
            Self::My(l) => l.drop_tables().await,
        };
        done.map_err(|e| format!("dropping the run's tables: {e}"))
    }

    /// How many sagas the log's instance table holds (the scaling phase checks its preload).
    pub async fn count_sagas(&self) -> Result<i64, String> {
        let q = format!("SELECT COUNT(*) FROM {}saga_instances", self.table_prefix());
        let fail = |e: sqlx::Error| format!("counting: {e}");
        match self {
            Self::Lite(l) => sqlx::query_scalar(&q)
                .fetch_one(l.pool())
                .await
                .map_err(fail),
            #[cfg(feature = "postgres")]
            Self::Pg(l) => sqlx::query_scalar(&q)
                .fetch_one(l.pool())
                .await
                .map_err(fail),
            #[cfg(feature = "mysql")]
            Self::My(l) => sqlx::query_scalar(&q)
                .fetch_one(l.pool())
                .await
                .map_err(fail),
        }
    }

    /// Runs `statements` in order on one pooled connection (temporary tables live per connection).
    pub async fn execute_on_one_connection(&self, statements: &[String]) -> Result<(), String> {
        let fail = |e: sqlx::Error| format!("preloading: {e}");
        macro_rules! on_one {
            ($log:expr) => {{
                let mut conn = $log.pool().acquire().await.map_err(fail)?;
                for q in statements {
                    sqlx::raw_sql(q).execute(&mut *conn).await.map_err(fail)?;
                }
                Ok(())
            }};
        }
        match self {
            Self::Lite(l) => on_one!(l),
            #[cfg(feature = "postgres")]
            Self::Pg(l) => on_one!(l),
            #[cfg(feature = "mysql")]
            Self::My(l) => on_one!(l),
        }
    }
}
