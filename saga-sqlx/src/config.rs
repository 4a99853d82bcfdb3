//! Configuration of the SQL logs: [`SqlLogConfig`] and the table-prefix rule.

use std::time::Duration;

use saga::log::BatchingConfig;

use crate::error::{Error, Result};

/// Settings shared by [`PostgresSagaLog`](crate::PostgresSagaLog),
/// [`MySqlSagaLog`](crate::MySqlSagaLog) and [`SqliteSagaLog`](crate::SqliteSagaLog), built with
/// `with_*` methods.
///
/// ```
/// use std::time::Duration;
/// use saga_sqlx::SqlLogConfig;
/// let config = SqlLogConfig::default()
///     .with_table_prefix("app_")
///     .with_max_connections(16)
///     .with_acquire_timeout(Duration::from_secs(5));
/// assert_eq!(config.table_prefix(), "app_");
/// assert!(config.batching().is_some(), "writes are batched by default");
/// assert!(config.without_batching().batching().is_none());
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SqlLogConfig {
    table_prefix: String,
    max_connections: u32,
    acquire_timeout: Duration,
    busy_timeout: Duration,
    run_migrations: bool,
    batching: Option<BatchingConfig>,
    ping_after_idle: Duration,
}

impl Default for SqlLogConfig {
    /// No table prefix, 10 pooled connections (SQLite: one writer), 10 s acquire timeout, 5 s SQLite busy
    /// timeout, migrations run on `connect`, writes batched ([`BatchingConfig::default`]), pooled
    /// connections pinged before use after 10 s idle.
    fn default() -> Self {
        Self {
            table_prefix: String::new(),
            max_connections: 10,
            acquire_timeout: Duration::from_secs(10),
            busy_timeout: Duration::from_secs(5),
            run_migrations: true,
            batching: Some(BatchingConfig::default()),
            ping_after_idle: Duration::from_secs(10),
        }
    }
}

impl SqlLogConfig {
    /// Prefix of every table the crate creates (`<prefix>saga_instances`, `<prefix>saga_step_logs`,
    /// `<prefix>saga_inbox`, `<prefix>saga_migrations`). It must match `[a-z_][a-z0-9_]{0,30}` (or be
    /// empty); `connect` and `with_pool` reject anything else with [`Error::InvalidTablePrefix`].
    ///
    /// Lower case only, on every backend: PostgreSQL folds unquoted names to lower case, so `App_` and
    /// `app_` would silently share tables there while MySQL/MariaDB kept them apart.
    #[must_use]
    pub fn with_table_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.table_prefix = prefix.into();
        self
    }

    /// Size of the connection pool (PostgreSQL, MySQL). SQLite always uses a single writer connection.
    #[must_use]
    pub fn with_max_connections(mut self, max: u32) -> Self {
        self.max_connections = max.max(1);
        self
    }

    /// How long a call waits for a pooled connection before failing with a transient error.
    #[must_use]
    pub fn with_acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// SQLite only: how long a write waits for another process's lock before `SQLITE_BUSY`.
    #[must_use]
    pub fn with_busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// Whether `connect` runs the embedded migrations (default `true`). Turn it off when migrations are
    /// applied by a deployment step that calls `migrate()`.
    #[must_use]
    pub fn with_migrations(mut self, run: bool) -> Self {
        self.run_migrations = run;
        self
    }

    /// How concurrent `create`s and `append`s are batched (the default: natural batching with
    /// [`BatchingConfig::default`]). A write that finds a writer lane free runs at once, alone, so a
    /// lone saga pays nothing; writes that arrive while the lanes are busy share the next
    /// transaction (one commit, one WAL flush), each with its own result: one saga's conflict or
    /// stale fence fails only its own write. Durability is unchanged: a write returns after its
    /// batch committed. SQLite has one writer lane whatever `writers` says.
    #[must_use]
    pub fn with_batching(mut self, batching: BatchingConfig) -> Self {
        self.batching = Some(batching);
        self
    }

    /// Turns batching off: every `create` and `append` is its own transaction, run on the caller's
    /// task.
    #[must_use]
    pub fn without_batching(mut self) -> Self {
        self.batching = None;
        self
    }

    /// A pooled connection idle for longer than this is pinged before it is handed out (and replaced
    /// if the ping fails), e.g. after a database restart. Connections in steady use are not: a ping
    /// is a round trip, and sqlx's default of pinging on every acquire doubled the round trips of
    /// every write. A connection that broke while in use makes that write fail with a transient
    /// error, which the executor retries. `Duration::ZERO` pings on every acquire.
    #[must_use]
    pub fn with_ping_after_idle(mut self, idle: Duration) -> Self {
        self.ping_after_idle = idle;
        self
    }

    /// How long a pooled connection may be idle before it is pinged before use.
    #[must_use]
    pub const fn ping_after_idle(&self) -> Duration {
        self.ping_after_idle
    }

    /// The batching settings, `None` when batching is off.
    #[must_use]
    pub const fn batching(&self) -> Option<BatchingConfig> {
        self.batching
    }

    /// The table prefix.
    #[must_use]
    pub fn table_prefix(&self) -> &str {
        &self.table_prefix
    }

    /// The pool size.
    #[must_use]
    pub const fn max_connections(&self) -> u32 {
        self.max_connections
    }

    /// The pool acquire timeout.
    #[must_use]
    pub const fn acquire_timeout(&self) -> Duration {
        self.acquire_timeout
    }

    /// The SQLite busy timeout.
    #[must_use]
    pub const fn busy_timeout(&self) -> Duration {
        self.busy_timeout
    }

    /// Whether `connect` runs migrations.
    #[must_use]
    pub const fn runs_migrations(&self) -> bool {
        self.run_migrations
    }

    /// Checks the table prefix.
    ///
    /// # Errors
    /// [`Error::InvalidTablePrefix`] if it does not match `[a-z_][a-z0-9_]{0,30}`; the error says why.
    pub fn validate(&self) -> Result<()> {
        validate_prefix(&self.table_prefix)
    }
}

/// Checks that `prefix` is empty or matches `[a-z_][a-z0-9_]{0,30}`.
///
/// Lower case only, on every backend: PostgreSQL folds unquoted identifiers to lower case (so `App_` and
/// `app_` would name the same tables there) while MySQL/MariaDB on Linux keeps them apart. One rule for
/// all backends means a prefix names the same tables wherever the log lives.
pub(crate) fn validate_prefix(prefix: &str) -> Result<()> {
    let reason = if prefix.len() > 31 {
        Some("it is longer than 31 characters")
    } else if prefix.starts_with(|c: char| c.is_ascii_digit()) {
        Some("it starts with a digit")
    } else if prefix.contains(|c: char| c.is_ascii_uppercase()) {
        Some(
            "upper-case letters are not allowed: PostgreSQL folds unquoted names to lower case, so \
             prefixes differing only in case would share tables there",
        )
    } else if !prefix
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        Some("only a-z, 0-9 and _ are allowed")
    } else {
        None
    };
    match reason {
        None => Ok(()),
        Some(reason) => Err(Error::InvalidTablePrefix {
            prefix: prefix.chars().take(40).collect(),
            reason,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_identifiers() {
        for ok in ["", "app_", "_x", "a1_b2", &"a".repeat(31)] {
            assert!(validate_prefix(ok).is_ok(), "{ok:?} is valid");
        }
        for bad in [
            "1app",
            "app-",
            "a b",
            "x;drop",
            "é",
            "App_",
            "A1_b2",
            &"a".repeat(32),
        ] {
            assert!(
                matches!(validate_prefix(bad), Err(Error::InvalidTablePrefix { .. })),
                "{bad:?} is rejected"
            );
        }
        let upper = validate_prefix("App_").expect_err("upper case").to_string();
        assert!(upper.contains("lower case"), "{upper}");
    }
}
