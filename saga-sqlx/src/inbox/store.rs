//! [`Inbox::record_in_tx`] and the [`IdempotencyStore`] implementation, per backend.

use std::time::Duration;

use async_trait::async_trait;
use saga::participant::{Claim, IdempotencyStore, StoreError, StoredReply};
use saga::IdempotencyKey;
use sqlx::Row;

use super::{key_text, stored, Inbox, InboxOutcome, Stored};
use crate::error::{store_error, Error, Result};
use crate::rows::{millis, Columns as _};
use crate::schema::Dialect;

/// SQL for one backend; `$n` placeholders are rewritten for MySQL (`?`) and SQLite (`?n`).
fn sql(dialect: Dialect, text: &str) -> String {
    match dialect {
        Dialect::Postgres => text.to_owned(),
        Dialect::Sqlite => text.replace('$', "?"),
        Dialect::MySql => {
            let mut out = String::with_capacity(text.len());
            let mut chars = text.chars().peekable();
            while let Some(c) = chars.next() {
                if c == '$' {
                    while chars.peek().is_some_and(char::is_ascii_digit) {
                        chars.next();
                    }
                    out.push('?');
                } else {
                    out.push(c);
                }
            }
            out
        }
    }
}

macro_rules! inbox_backend {
    ($feature:literal, $db:ty, $dialect:expr, $backend:literal) => {
        #[cfg(feature = $feature)]
        impl Inbox<$db> {
            /// Records `key` with `reply` inside the caller's transaction `tx`, which must also hold the
            /// participant's business write. Commit `tx` only on [`InboxOutcome::FirstTime`]; on
            /// [`InboxOutcome::Duplicate`] skip the effect and answer with the stored reply.
            ///
            /// Concurrent deliveries of one key serialize on the key's row: the second waits for the
            /// first transaction and then sees `Duplicate` (or `FirstTime` if the first rolled back). A key
            /// claimed through [`IdempotencyStore::claim`] but not completed counts as new.
            ///
            /// # Errors
            /// [`Error::Database`].
            pub async fn record_in_tx(
                &self,
                tx: &mut sqlx::Transaction<'_, $db>,
                key: &IdempotencyKey,
                reply: &[u8],
            ) -> Result<InboxOutcome> {
                let fail = |e| Error::database($backend, e);
                let b = &self.tables.inbox;
                let now = $dialect.now_ms();
                let key = key_text(key);
                let first = if $dialect == Dialect::MySql {
                    let inserted = sqlx::query(&sql($dialect, &format!(
                        "INSERT INTO {b} (scope, idem_key, status, reply_status, reply, created_at_ms) \
                         VALUES ($1, $2, 'done', 'ok', $3, {now})"
                    )))
                    .bind(&self.scope)
                    .bind(&key)
                    .bind(reply)
                    .execute(&mut **tx)
                    .await;
                    match inserted {
                        Ok(_) => true,
                        Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                            sqlx::query(&sql($dialect, &format!(
                                "UPDATE {b} SET status = 'done', reply_status = 'ok', reply = $1, \
                                 lease_until_ms = NULL \
                                 WHERE scope = $2 AND idem_key = $3 AND status = 'claimed'"
                            )))
                            .bind(reply)
                            .bind(&self.scope)
                            .bind(&key)
                            .execute(&mut **tx)
                            .await
                            .map_err(fail)?
                            .rows_affected()
                                == 1
                        }
                        Err(e) => return Err(fail(e)),
                    }
                } else {
                    sqlx::query(&sql($dialect, &format!(
                        "INSERT INTO {b} AS x (scope, idem_key, status, reply_status, reply, created_at_ms) \
                         VALUES ($1, $2, 'done', 'ok', $3, {now}) \
                         ON CONFLICT (scope, idem_key) DO UPDATE SET status = 'done', \
                           reply_status = 'ok', reply = excluded.reply, lease_until_ms = NULL \
                         WHERE x.status = 'claimed'"
                    )))
                    .bind(&self.scope)
                    .bind(&key)
                    .bind(reply)
                    .execute(&mut **tx)
                    .await
                    .map_err(fail)?
                    .rows_affected()
                        == 1
                };
                if first {
                    return Ok(InboxOutcome::FirstTime);
                }
                let row = sqlx::query(&sql(
                    $dialect,
                    &format!(
                        "SELECT status, reply_status, reply FROM {b} WHERE scope = $1 AND idem_key = $2"
                    ),
                ))
                .bind(&self.scope)
                .bind(&key)
                .fetch_one(&mut **tx)
                .await
                .map_err(fail)?;
                let status = row.text("status").map_err(fail)?;
                let reply_status = row.text("reply_status").map_err(fail)?;
                let corrupt = |message| Error::Corrupt { backend: $backend, message };
                match stored($backend, &key, status.as_deref(), reply_status.as_deref()) {
                    Ok(Stored::Done(_)) => {}
                    // Not written by a completed execution, yet not taken over above.
                    Ok(Stored::Claimed) => {
                        return Err(corrupt(format!("inbox key {key} is neither new nor done")))
                    }
                    Err(message) => return Err(corrupt(message)),
                }
                let reply: Option<Vec<u8>> = row.try_get("reply").map_err(fail)?;
                Ok(InboxOutcome::Duplicate {
                    stored_reply: reply.unwrap_or_default(),
                })
            }
        }

        #[cfg(feature = $feature)]
        #[async_trait]
        impl IdempotencyStore for Inbox<$db> {
            async fn claim(
                &self,
                scope: &str,
                key: &str,
                lease: Duration,
            ) -> Result<Claim, StoreError> {
                let fail = |e| store_error($backend, e);
                let b = &self.tables.inbox;
                let now = $dialect.now_ms();
                for _ in 0..3 {
                    let taken = sqlx::query(&sql($dialect, &format!(
                        "UPDATE {b} SET lease_until_ms = {now} + $1 \
                         WHERE scope = $2 AND idem_key = $3 AND status = 'claimed' \
                           AND lease_until_ms <= {now}"
                    )))
                    .bind(millis(lease))
                    .bind(scope)
                    .bind(key)
                    .execute(&self.pool)
                    .await
                    .map_err(fail)?;
                    if taken.rows_affected() == 1 {
                        return Ok(Claim::Acquired);
                    }
                    let inserted = sqlx::query(&sql($dialect, &format!(
                        "INSERT INTO {b} (scope, idem_key, status, lease_until_ms, created_at_ms) \
                         VALUES ($1, $2, 'claimed', {now} + $3, {now})"
                    )))
                    .bind(scope)
                    .bind(key)
                    .bind(millis(lease))
                    .execute(&self.pool)
                    .await;
                    match inserted {
                        Ok(_) => return Ok(Claim::Acquired),
                        Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {}
                        Err(e) => return Err(fail(e)),
                    }
                    let row = sqlx::query(&sql($dialect, &format!(
                        "SELECT status, reply_status, reply FROM {b} \
                         WHERE scope = $1 AND idem_key = $2"
                    )))
                    .bind(scope)
                    .bind(key)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(fail)?;
                    let Some(row) = row else { continue };
                    let status = row.text("status").map_err(fail)?;
                    let st = row.text("reply_status").map_err(fail)?;
                    let Stored::Done(st) = stored($backend, key, status.as_deref(), st.as_deref())
                        .map_err(StoreError::permanent)?
                    else {
                        return Ok(Claim::InProgress);
                    };
                    let payload: Option<Vec<u8>> = row.try_get("reply").map_err(fail)?;
                    return Ok(Claim::Completed(StoredReply::new(
                        st,
                        payload.unwrap_or_default().into(),
                    )));
                }
                Ok(Claim::InProgress)
            }

            async fn complete(
                &self,
                scope: &str,
                key: &str,
                reply: StoredReply,
            ) -> Result<(), StoreError> {
                let b = &self.tables.inbox;
                let now = $dialect.now_ms();
                let upsert = if $dialect == Dialect::MySql {
                    "ON DUPLICATE KEY UPDATE status = 'done', reply_status = VALUES(reply_status), \
                     reply = VALUES(reply), lease_until_ms = NULL"
                } else {
                    "ON CONFLICT (scope, idem_key) DO UPDATE SET status = 'done', \
                     reply_status = excluded.reply_status, reply = excluded.reply, lease_until_ms = NULL"
                };
                sqlx::query(&sql($dialect, &format!(
                    "INSERT INTO {b} (scope, idem_key, status, reply_status, reply, created_at_ms) \
                     VALUES ($1, $2, 'done', $3, $4, {now}) {upsert}"
                )))
                .bind(scope)
                .bind(key)
                .bind(reply.status.as_str())
                .bind(reply.payload.as_ref())
                .execute(&self.pool)
                .await
                .map_err(|e| store_error($backend, e))?;
                Ok(())
            }

            async fn release(&self, scope: &str, key: &str) -> Result<(), StoreError> {
                let b = &self.tables.inbox;
                sqlx::query(&sql($dialect, &format!(
                    "DELETE FROM {b} WHERE scope = $1 AND idem_key = $2 AND status = 'claimed'"
                )))
                .bind(scope)
                .bind(key)
                .execute(&self.pool)
                .await
                .map_err(|e| store_error($backend, e))?;
                Ok(())
            }
        }
    };
}

inbox_backend!("postgres", sqlx::Postgres, Dialect::Postgres, "postgres");
inbox_backend!("mysql", sqlx::MySql, Dialect::MySql, "mysql");
inbox_backend!("sqlite", sqlx::Sqlite, Dialect::Sqlite, "sqlite");
