//! Applying, verifying and dropping a prefix's tables, alike for every backend; the DDL itself is in
//! [`schema`](crate::schema).
//!
//! A row in `<prefix>saga_migrations` is not trusted on its own: a migration counts as applied only if
//! the tables it creates exist. If some are missing (a drop was interrupted, or someone dropped a table
//! by hand), the migration runs again; its statements are idempotent.

use crate::error::{Error, Result};
use crate::schema::{Dialect, Tables};

/// The error of migration `version` of `backend`.
pub(crate) fn migrate_error(backend: &'static str, version: i64) -> impl Fn(sqlx::Error) -> Error {
    move |e: sqlx::Error| Error::Migrate {
        backend,
        version,
        message: e.to_string(),
        source: e,
    }
}

/// Applies the migrations of `dialect` that are not recorded in `<prefix>saga_migrations`, and again
/// those recorded whose tables are missing, on `conn` (the caller holds the lock or transaction that
/// serializes migrations). A statement whose error `skip` accepts counts as already applied.
pub(crate) async fn apply_migrations<DB>(
    conn: &mut DB::Connection,
    backend: &'static str,
    tables: &Tables,
    dialect: Dialect,
    skip: fn(&sqlx::Error) -> bool,
) -> Result<()>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB> + for<'r> sqlx::Decode<'r, DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    let fail = |version| migrate_error(backend, version);
    let m = &tables.migrations;
    sqlx::query(&dialect.migrations_table(m))
        .execute(&mut *conn)
        .await
        .map_err(fail(0))?;
    let applied: Vec<i64> = sqlx::query_scalar(&format!("SELECT version FROM {m}"))
        .fetch_all(&mut *conn)
        .await
        .map_err(fail(0))?;
    for migration in tables.migrations(dialect) {
        let version = migration.version;
        let recorded = applied.contains(&version);
        if recorded {
            let mut missing = Vec::new();
            for table in &migration.tables {
                let found: i64 = sqlx::query_scalar(dialect.table_exists())
                    .bind(table.clone())
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(fail(version))?;
                if found == 0 {
                    missing.push(table.as_str());
                }
            }
            if missing.is_empty() {
                continue;
            }
            tracing::warn!(
                backend,
                version,
                ?missing,
                "saga-sqlx: migration recorded but its tables are missing; applying it again"
            );
        }
        for statement in &migration.statements {
            match sqlx::query(statement).execute(&mut *conn).await {
                Ok(_) => {}
                Err(e) if skip(&e) => {}
                Err(e) => return Err(fail(version)(e)),
            }
        }
        if !recorded {
            sqlx::query(&dialect.record_migration(m))
                .bind(version)
                .execute(&mut *conn)
                .await
                .map_err(fail(version))?;
        }
    }
    Ok(())
}

/// Drops the tables of `tables`, the migrations table first: in one transaction where DDL is
/// transactional (PostgreSQL, SQLite), one statement at a time otherwise (MySQL/MariaDB), so that an
/// interruption never leaves a migration record without its tables.
pub(crate) async fn drop_tables<DB>(
    pool: &sqlx::Pool<DB>,
    backend: &'static str,
    tables: &Tables,
    dialect: Dialect,
) -> Result<()>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    let fail = |e| Error::database(backend, e);
    if dialect.transactional_ddl() {
        let mut tx = pool.begin().await.map_err(fail)?;
        run_all::<DB>(&mut tx, backend, &tables.drop_statements()).await?;
        tx.commit().await.map_err(fail)
    } else {
        let mut conn = pool.acquire().await.map_err(fail)?;
        run_all::<DB>(&mut conn, backend, &tables.drop_statements()).await
    }
}

/// Runs `statements` on `conn`, in order.
async fn run_all<DB>(
    conn: &mut DB::Connection,
    backend: &'static str,
    statements: &[String],
) -> Result<()>
where
    DB: sqlx::Database,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
{
    for statement in statements {
        sqlx::query(statement)
            .execute(&mut *conn)
            .await
            .map_err(|e| Error::database(backend, e))?;
    }
    Ok(())
}
