//! What every backend's log holds and does alike: the pool, the table names, the prepared SQL, the
//! commit counters and the redacted URL ([`LogCore`]); the skeleton of `connect` ([`open`]); and the
//! public accessors and `Debug` of each log type ([`sql_log_api!`]). Migrations are in
//! [`migrate`](crate::migrate).

use std::sync::Arc;

use sqlx::pool::PoolOptions;
use sqlx::Connection as _;

use crate::batch::Writes;
use crate::config::SqlLogConfig;
use crate::error::{Error, Result};
use crate::schema::Tables;
use crate::secret::SecretUrl;
use crate::stats::Counters;

/// The state of one backend's log, shared by its clones. `S` is the backend's prepared SQL.
pub(crate) struct LogCore<DB: sqlx::Database, S> {
    pub(crate) pool: sqlx::Pool<DB>,
    pub(crate) tables: Arc<Tables>,
    pub(crate) sql: Arc<S>,
    pub(crate) counters: Arc<Counters>,
    /// The URL `connect` was given (shown redacted only); `None` for `with_pool`.
    pub(crate) url: Option<SecretUrl>,
    /// The coalescer of `create`s and `append`s, unless batching is off. Its runner holds a clone of
    /// the log without one.
    pub(crate) writes: Option<Writes>,
}

impl<DB: sqlx::Database, S> Clone for LogCore<DB, S> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            tables: Arc::clone(&self.tables),
            sql: Arc::clone(&self.sql),
            counters: Arc::clone(&self.counters),
            url: self.url.clone(),
            writes: self.writes.clone(),
        }
    }
}

impl<DB: sqlx::Database, S> LogCore<DB, S> {
    /// A core on `pool` after validating `config`; `sql` prepares the statements for its tables.
    pub(crate) fn new(
        pool: sqlx::Pool<DB>,
        config: &SqlLogConfig,
        sql: impl FnOnce(&Tables) -> S,
    ) -> Result<Self> {
        config.validate()?;
        let tables = Tables::new(config.table_prefix());
        Ok(Self {
            pool,
            sql: Arc::new(sql(&tables)),
            tables: Arc::new(tables),
            counters: Counters::new(),
            url: None,
            writes: None,
        })
    }

    /// The `Debug` output of the log type `name`: the URL redacted, never the password.
    pub(crate) fn debug(&self, name: &str, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(name)
            .field("url", &self.url)
            .field("table_prefix", &self.tables.prefix)
            .field("stats", &self.counters.snapshot())
            .field("batching", &self.writes.as_ref().map(Writes::config))
            .finish_non_exhaustive()
    }
}

/// The skeleton of every `connect`: validates `config`, parses `url` with `options`, opens one direct
/// connection to learn whether the database is there, then a pool sized and timed by `config`, pinging
/// only connections idle for `config.ping_after_idle()` before use (then
/// adjusted by `pool`, e.g. a per-connection session setup), and returns it with the URL kept secret.
/// Errors carry the redacted URL and a message without the password.
///
/// The direct connection is what makes the error name its cause: a pool retries a refused connection
/// until its acquire timeout and then reports only "pool timed out". It is bounded by the acquire
/// timeout too, and closed once it succeeded; the pool then opens its connections as they are needed
/// (at once, for the migrations), so a `connect` still opens one connection at a time.
pub(crate) async fn open<DB: sqlx::Database>(
    backend: &'static str,
    url: &str,
    config: &SqlLogConfig,
    options: impl FnOnce(&str) -> Result<<DB::Connection as sqlx::Connection>::Options, sqlx::Error>,
    pool: impl FnOnce(PoolOptions<DB>) -> PoolOptions<DB>,
) -> Result<(sqlx::Pool<DB>, SecretUrl)> {
    config.validate()?;
    let secret = SecretUrl::new(url);
    let connect_err = |e: sqlx::Error| Error::Connect {
        backend,
        url: secret.to_string(),
        message: secret.scrub(&e.to_string()),
        transient: crate::error::is_transient(&e),
        source: secret.scrub_error(e),
    };
    let options = options(secret.expose()).map_err(connect_err)?;
    let wait = config.acquire_timeout();
    let probe = tokio::time::timeout(wait, DB::Connection::connect_with(&options)).await;
    match probe {
        // The server answered; a failure to say goodbye does not make it unusable.
        Ok(Ok(conn)) => drop(conn.close().await),
        Ok(Err(e)) => return Err(connect_err(e)),
        Err(_) => {
            let message = format!("no connection within {wait:?}");
            let timed_out = std::io::Error::new(std::io::ErrorKind::TimedOut, message);
            return Err(connect_err(sqlx::Error::Io(timed_out)));
        }
    }
    let idle = config.ping_after_idle();
    let opened = pool(
        PoolOptions::<DB>::new()
            .max_connections(config.max_connections())
            .acquire_timeout(wait)
            // One round trip less per write: ping only connections that sat idle (see
            // `SqlLogConfig::with_ping_after_idle`).
            .test_before_acquire(false)
            .before_acquire(move |conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= idle {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            }),
    )
    .connect_lazy_with(options);
    Ok((opened, secret))
}

/// The `Debug` impl, `connect` and the accessors `pool`, `inbox`, `stats`, `table_prefix` and
/// `drop_tables` of a log type `$log` (pool type `$pool`, SQL dialect `$dialect`) with a field `core: LogCore<$db, _>`, an associated `async fn open(url, &config)` (its
/// [`open`] call), `with_pool` and `migrate`. Each public method takes its documentation from the
/// invocation.
macro_rules! sql_log_api {
    (
        $log:ident, $db:ty, $pool:ty, $dialect:expr;
        $(#[$connect_doc:meta])* connect;
        $(#[$pool_doc:meta])* pool;
        $(#[$inbox_doc:meta])* inbox;
        $(#[$stats_doc:meta])* stats;
    ) => {
        impl std::fmt::Debug for $log {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.core.debug(stringify!($log), f)
            }
        }

        impl $log {
            $(#[$connect_doc])*
            pub async fn connect(
                url: &str,
                config: $crate::SqlLogConfig,
            ) -> $crate::Result<Self> {
                let (pool, secret) = Self::open(url, &config).await?;
                let mut log = Self::with_pool(pool, &config)?;
                log.core.url = Some(secret);
                if config.runs_migrations() {
                    log.migrate().await?;
                }
                Ok(log)
            }

            $(#[$pool_doc])*
            #[must_use]
            pub fn pool(&self) -> &$pool {
                &self.core.pool
            }

            $(#[$inbox_doc])*
            #[must_use]
            pub fn inbox(&self, scope: impl Into<String>) -> $crate::Inbox<$db> {
                $crate::Inbox::new(
                    self.core.pool.clone(),
                    std::sync::Arc::clone(&self.core.tables),
                    scope,
                )
            }

            $(#[$stats_doc])*
            #[must_use]
            pub fn stats(&self) -> $crate::SqlLogStats {
                self.core.counters.snapshot()
            }

            /// The table prefix.
            #[must_use]
            pub fn table_prefix(&self) -> &str {
                &self.core.tables.prefix
            }

            /// Drops this prefix's tables (migrations, step logs, inbox, instances) with everything
            /// in them: for tests and demos that created a throw-away prefix. The log is unusable
            /// afterwards until [`migrate`](Self::migrate) runs again.
            ///
            /// On PostgreSQL and SQLite the drops are one transaction. MySQL/MariaDB commit each DDL
            /// statement on its own, so the migrations table goes first there: an interrupted drop
            /// leaves tables that the next `migrate` completes, never a migration record that
            /// vouches for missing tables.
            ///
            /// # Errors
            /// [`Error::Database`](crate::Error::Database).
            pub async fn drop_tables(&self) -> $crate::Result<()> {
                $crate::migrate::drop_tables(&self.core.pool, BACKEND, &self.core.tables, $dialect)
                    .await
            }
        }
    };
}
pub(crate) use sql_log_api;
