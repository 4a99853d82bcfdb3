//! Table names and the embedded migrations of each backend.
//!
//! Migrations are numbered; each backend records the applied numbers in `<prefix>saga_migrations` and
//! applies the missing ones under a lock (an advisory lock on PostgreSQL, `GET_LOCK` on MySQL, an
//! immediate transaction on SQLite), so `migrate()` is idempotent and safe to call from several processes
//! at once. A recorded migration whose tables are missing is applied again (see
//! [`migrate`](crate::migrate)).
//!
//! Every time column is milliseconds since the Unix epoch taken from the database clock. The indexes:
//! - `saga_instances` is keyed by id; a claim index on `(definition, definition_version, state,
//!   lease_until_ms)` (partial, non-terminal states only, on PostgreSQL and SQLite) keeps recovery
//!   independent of the number of finished sagas; a list index on `(definition, state, id)`;
//! - `saga_step_logs` is keyed by `(saga_id, seq)`, so appends and loads touch one saga's rows only;
//! - `saga_inbox` is keyed by `(scope, idem_key)`.

/// The SQL flavour of a backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    Postgres,
    #[cfg_attr(not(feature = "mysql"), allow(dead_code))]
    MySql,
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    Sqlite,
}

impl Dialect {
    /// The database clock in milliseconds since the Unix epoch, as an SQL expression.
    pub(crate) const fn now_ms(self) -> &'static str {
        match self {
            Self::Postgres => "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT",
            Self::MySql => "CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)",
            Self::Sqlite => "CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)",
        }
    }

    /// The `CREATE TABLE IF NOT EXISTS` of the migrations table `m`.
    pub(crate) fn migrations_table(self, m: &str) -> String {
        match self {
            Self::Postgres => format!(
                "CREATE TABLE IF NOT EXISTS {m} (version BIGINT PRIMARY KEY, applied_at_ms BIGINT NOT NULL)"
            ),
            Self::MySql => format!(
                "CREATE TABLE IF NOT EXISTS {m} (version BIGINT PRIMARY KEY, applied_at_ms BIGINT NOT NULL) \
                 ENGINE=InnoDB"
            ),
            Self::Sqlite => format!(
                "CREATE TABLE IF NOT EXISTS {m} (version INTEGER PRIMARY KEY, applied_at_ms INTEGER NOT NULL)"
            ),
        }
    }

    /// The `INSERT` recording an applied migration (its version bound first) in the migrations table `m`.
    pub(crate) fn record_migration(self, m: &str) -> String {
        let version = match self {
            Self::Postgres => "$1",
            Self::MySql => "?",
            Self::Sqlite => "?1",
        };
        format!(
            "INSERT INTO {m} (version, applied_at_ms) VALUES ({version}, {})",
            self.now_ms()
        )
    }

    /// A query counting the tables named by its one parameter (0 or 1) where this connection's
    /// unqualified names resolve.
    pub(crate) const fn table_exists(self) -> &'static str {
        match self {
            Self::Postgres => {
                "SELECT COUNT(*) FROM (SELECT to_regclass($1) AS t) x WHERE t IS NOT NULL"
            }
            Self::MySql => {
                "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_schema = DATABASE() AND table_name = ?"
            }
            Self::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
        }
    }

    /// Whether DDL takes part in transactions (MySQL/MariaDB commit each DDL statement on its own).
    pub(crate) const fn transactional_ddl(self) -> bool {
        !matches!(self, Self::MySql)
    }

    /// The SQL list of terminal states, e.g. `('completed','compensated','resolved')`.
    pub(crate) fn terminal_states() -> String {
        let states: Vec<String> = saga::SagaState::ALL
            .into_iter()
            .filter(|s| s.is_terminal())
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        format!("({})", states.join(","))
    }
}

/// One numbered migration: the tables it creates (its record is trusted only while they exist) and its
/// statements, each idempotent (`IF NOT EXISTS`, or an error the backend's migrate skips).
#[derive(Debug, Clone)]
pub(crate) struct Migration {
    pub(crate) version: i64,
    pub(crate) tables: Vec<String>,
    pub(crate) statements: Vec<String>,
}

/// The prefixed table names (the prefix is validated before this is built).
#[derive(Debug, Clone)]
pub(crate) struct Tables {
    pub(crate) prefix: String,
    pub(crate) instances: String,
    pub(crate) logs: String,
    pub(crate) inbox: String,
    pub(crate) migrations: String,
}

impl Tables {
    pub(crate) fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
            instances: format!("{prefix}saga_instances"),
            logs: format!("{prefix}saga_step_logs"),
            inbox: format!("{prefix}saga_inbox"),
            migrations: format!("{prefix}saga_migrations"),
        }
    }

    /// The migrations of `dialect`, oldest first.
    pub(crate) fn migrations(&self, dialect: Dialect) -> Vec<Migration> {
        vec![Migration {
            version: 1,
            tables: vec![
                self.instances.clone(),
                self.logs.clone(),
                self.inbox.clone(),
            ],
            statements: self.v1(dialect),
        }]
    }

    /// The `DROP TABLE IF EXISTS` of every table, the migrations table first.
    pub(crate) fn drop_statements(&self) -> Vec<String> {
        [&self.migrations, &self.logs, &self.inbox, &self.instances]
            .into_iter()
            .map(|t| format!("DROP TABLE IF EXISTS {t}"))
            .collect()
    }

    fn v1(&self, dialect: Dialect) -> Vec<String> {
        let Self {
            prefix: p,
            instances: i,
            logs: l,
            inbox: b,
            ..
        } = self;
        let (id, text, key, blob, big) = match dialect {
            Dialect::Postgres => ("UUID", "TEXT", "TEXT", "BYTEA", "BIGINT"),
            Dialect::MySql => (
                "BINARY(16)",
                "VARCHAR(255)",
                "VARCHAR(190)",
                "LONGBLOB",
                "BIGINT",
            ),
            Dialect::Sqlite => ("TEXT", "TEXT", "TEXT", "BLOB", "INTEGER"),
        };
        let long_text = if dialect == Dialect::MySql {
            "LONGTEXT"
        } else {
            "TEXT"
        };
        let table_opts = if dialect == Dialect::MySql {
            " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
        } else {
            ""
        };
        let claim_filter = match dialect {
            Dialect::MySql => "",
            _ => " WHERE state IN ('running','compensating')",
        };
        let if_not_exists = if dialect == Dialect::MySql {
            ""
        } else {
            "IF NOT EXISTS "
        };
        let mut out = vec![
            format!(
                "CREATE TABLE IF NOT EXISTS {i} (\
                 id {id} NOT NULL PRIMARY KEY, \
                 definition {text} NOT NULL, \
                 definition_version {big} NOT NULL, \
                 state VARCHAR(16) NOT NULL, \
                 version {big} NOT NULL, \
                 owner {text} NULL, \
                 fence {big} NOT NULL, \
                 lease_until_ms {big} NULL, \
                 deadline_at_ms {big} NULL, \
                 created_at_ms {big} NOT NULL, \
                 updated_at_ms {big} NOT NULL){table_opts}"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {l} (\
                 saga_id {id} NOT NULL, \
                 seq {big} NOT NULL, \
                 kind VARCHAR(32) NOT NULL, \
                 step {big} NULL, \
                 attempt {big} NULL, \
                 detail {long_text} NULL, \
                 payload {blob} NULL, \
                 at_ms {big} NOT NULL, \
                 PRIMARY KEY (saga_id, seq)){table_opts}"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {b} (\
                 scope {key} NOT NULL, \
                 idem_key {key} NOT NULL, \
                 status VARCHAR(16) NOT NULL, \
                 reply_status VARCHAR(16) NULL, \
                 reply {blob} NULL, \
                 lease_until_ms {big} NULL, \
                 created_at_ms {big} NOT NULL, \
                 PRIMARY KEY (scope, idem_key)){table_opts}"
            ),
        ];
        // MySQL has no CREATE INDEX IF NOT EXISTS (MariaDB does, MySQL 8 does not): the migration table
        // guarantees these run once.
        out.push(format!(
            "CREATE INDEX {if_not_exists}{p}saga_instances_claim ON {i} \
             (definition, definition_version, state, lease_until_ms){claim_filter}"
        ));
        out.push(format!(
            "CREATE INDEX {if_not_exists}{p}saga_instances_list ON {i} (definition, state, id)"
        ));
        out
    }
}
