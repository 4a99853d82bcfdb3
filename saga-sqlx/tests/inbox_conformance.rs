//! The shared `IdempotencyStore` conformance suite against the SQL inbox on every backend, one test per
//! check; each check gets its own table prefix and drops its tables afterwards.

mod common;

use std::ops::Deref;
use std::sync::Arc;

use saga::participant::IdempotencyStore;
use saga_sqlx::SqlLogConfig;

fn config() -> SqlLogConfig {
    SqlLogConfig::default().with_table_prefix(common::prefix())
}

/// The inbox under test, and the log whose tables are dropped after the check.
struct Fixture<L> {
    inbox: Arc<dyn IdempotencyStore>,
    tables: L,
    _dir: Option<common::TempDir>,
}

impl<L> Deref for Fixture<L> {
    type Target = dyn IdempotencyStore;

    fn deref(&self) -> &Self::Target {
        &*self.inbox
    }
}

/// Builds a fixture from a log: its inbox (scope "store"; the checks pass their own scopes).
macro_rules! fixture {
    ($log:expr, $dir:expr) => {{
        let log = $log;
        Fixture {
            inbox: Arc::new(log.inbox("store")),
            tables: log,
            _dir: $dir,
        }
    }};
}

/// Drops the fixture's tables (a check that failed still cleans up).
macro_rules! drop_tables {
    () => {
        |fixture: Fixture<_>| async move {
            fixture.tables.drop_tables().await.expect("drop tables");
        }
    };
}

#[cfg(feature = "postgres")]
mod postgres {
    use super::*;

    saga::store_conformance_tests!(
        || async { common::postgres(config()).await.map(|l| fixture!(l, None)) },
        drop_tables!()
    );
}

#[cfg(feature = "mysql")]
mod mysql {
    use super::*;

    saga::store_conformance_tests!(
        || async { common::mysql(config()).await.map(|l| fixture!(l, None)) },
        drop_tables!()
    );
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;

    saga::store_conformance_tests!(
        || async {
            let (log, dir) = common::sqlite(config()).await;
            Some(fixture!(log, Some(dir)))
        },
        drop_tables!()
    );
}
