//! The shared `SagaLog` conformance suite against every backend with default settings (writes
//! batched) and with batching off, and (SQLite) behind a `GroupCommitLog`, one test per check; each
//! check gets its own table prefix and drops its tables afterwards.

mod common;

use std::ops::Deref;
use std::sync::Arc;

use saga::SagaLog;
use saga_sqlx::{GroupCommitConfig, GroupCommitLog, SqlLogConfig};

fn config() -> SqlLogConfig {
    SqlLogConfig::default().with_table_prefix(common::prefix())
}

fn unbatched() -> SqlLogConfig {
    config().without_batching()
}

/// The log under test, and the plain log whose tables are dropped after the check.
struct Fixture<L> {
    log: Arc<dyn SagaLog>,
    tables: L,
    _dir: Option<common::TempDir>,
}

impl<L: SagaLog + Clone> Fixture<L> {
    fn plain(log: L, dir: Option<common::TempDir>) -> Self {
        Self {
            log: Arc::new(log.clone()),
            tables: log,
            _dir: dir,
        }
    }

    fn group_commit(log: L, dir: Option<common::TempDir>) -> Self
    where
        L: saga_sqlx::BatchWrite,
    {
        Self {
            log: Arc::new(GroupCommitLog::new(
                log.clone(),
                GroupCommitConfig::default(),
            )),
            tables: log,
            _dir: dir,
        }
    }
}

impl<L> Deref for Fixture<L> {
    type Target = dyn SagaLog;

    fn deref(&self) -> &Self::Target {
        &*self.log
    }
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

    saga::log_conformance_tests!(
        || async {
            common::postgres(config())
                .await
                .map(|l| Fixture::plain(l, None))
        },
        drop_tables!()
    );
}

#[cfg(feature = "postgres")]
mod postgres_unbatched {
    use super::*;

    saga::log_conformance_tests!(
        || async {
            common::postgres(unbatched())
                .await
                .map(|l| Fixture::plain(l, None))
        },
        drop_tables!()
    );
}

#[cfg(feature = "mysql")]
mod mysql {
    use super::*;

    saga::log_conformance_tests!(
        || async {
            common::mysql(config())
                .await
                .map(|l| Fixture::plain(l, None))
        },
        drop_tables!()
    );
}

#[cfg(feature = "mysql")]
mod mysql_unbatched {
    use super::*;

    saga::log_conformance_tests!(
        || async {
            common::mysql(unbatched())
                .await
                .map(|l| Fixture::plain(l, None))
        },
        drop_tables!()
    );
}

#[cfg(feature = "sqlite")]
mod sqlite {
    use super::*;

    saga::log_conformance_tests!(
        || async {
            let (log, dir) = common::sqlite(config()).await;
            Some(Fixture::plain(log, Some(dir)))
        },
        drop_tables!()
    );
}

#[cfg(feature = "sqlite")]
mod sqlite_unbatched {
    use super::*;

    saga::log_conformance_tests!(
        || async {
            let (log, dir) = common::sqlite(unbatched()).await;
            Some(Fixture::plain(log, Some(dir)))
        },
        drop_tables!()
    );
}

#[cfg(feature = "sqlite")]
mod sqlite_group_commit {
    use super::*;

    saga::log_conformance_tests!(
        || async {
            let (log, dir) = common::sqlite(unbatched()).await;
            Some(Fixture::group_commit(log, Some(dir)))
        },
        drop_tables!()
    );
}
