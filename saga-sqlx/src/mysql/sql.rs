//! The statements of [`MySqlSagaLog`](super::MySqlSagaLog), built once per table prefix.
//!
//! MySQL evaluates `SET` assignments left to right on the updated row, so every assignment that reads a
//! column comes before the assignment that changes it.

use super::lit;
use crate::claim::TakeSql;
use crate::rows::{event_rows, millis, releases_lease, to_i64};
use crate::schema::{Dialect, Tables};

pub(super) struct Statements {
    instances: String,
    logs: String,
    terminal: String,
    pub(super) current: String,
    pub(super) load: String,
    pub(super) claimable: String,
    pub(super) claimable_one: String,
    /// The take, read-back and release of a claim's candidates.
    pub(super) taking: TakeSql,
    /// A page of candidates taken and read back with one statement each (the ids' `IN (…)` list is
    /// appended).
    pub(super) page: PageSql,
    pub(super) list: String,
}

/// The statements of a page claim: `take` and `load` end with `WHERE id IN `, the caller appends the
/// list of placeholders (and `load_order` after the load's list).
pub(super) struct PageSql {
    pub(super) take: String,
    pub(super) load: String,
    pub(super) load_order: &'static str,
}

impl Statements {
    pub(super) fn new(t: &Tables) -> Self {
        let (i, l) = (&t.instances, &t.logs);
        let now = Dialect::MySql.now_ms();
        let terminal = Dialect::terminal_states();
        let cols = "id, definition, definition_version, state, version, owner, fence, \
                    deadline_at_ms, created_at_ms, updated_at_ms";
        let free = format!("(owner = ? OR lease_until_ms IS NULL OR lease_until_ms <= {now})");
        let load = format!(
            "SELECT i.id, i.definition, i.definition_version, i.state, i.version, i.owner, \
               i.fence, i.deadline_at_ms, i.created_at_ms, i.updated_at_ms, \
               l.seq, l.at_ms, l.kind, l.step, l.attempt, l.detail, l.payload \
             FROM {i} i LEFT JOIN {l} l ON l.saga_id = i.id \
             WHERE i.id = ? ORDER BY l.seq"
        );
        Self {
            instances: i.clone(),
            logs: l.clone(),
            terminal: terminal.clone(),
            current: format!("SELECT version, fence, state FROM {i} WHERE id = ?"),
            load: load.clone(),
            // definition, version, after, after, owner, limit
            claimable: format!(
                "SELECT id FROM {i} WHERE definition = ? AND definition_version = ? \
                   AND state IN ('running','compensating') AND (? IS NULL OR id > ?) AND {free} \
                 ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED"
            ),
            // id, definition, version, owner
            claimable_one: format!(
                "SELECT id FROM {i} WHERE id = ? AND definition = ? AND definition_version = ? \
                   AND state NOT IN {terminal} AND {free} FOR UPDATE"
            ),
            page: PageSql {
                // owner, owner, lease ms, then the ids
                take: format!(
                    "UPDATE {i} SET fence = IF(owner <=> ?, fence, fence + 1), owner = ?, \
                       lease_until_ms = {now} + ? WHERE id IN "
                ),
                load: format!(
                    "SELECT i.id, i.definition, i.definition_version, i.state, i.version, i.owner, \
                       i.fence, i.deadline_at_ms, i.created_at_ms, i.updated_at_ms, \
                       l.seq, l.at_ms, l.kind, l.step, l.attempt, l.detail, l.payload \
                     FROM {i} i LEFT JOIN {l} l ON l.saga_id = i.id WHERE i.id IN "
                ),
                load_order: " ORDER BY i.id, l.seq",
            },
            taking: TakeSql {
                // owner, owner, lease ms, id
                take: format!(
                    "UPDATE {i} SET fence = IF(owner <=> ?, fence, fence + 1), owner = ?, \
                       lease_until_ms = {now} + ? WHERE id = ?"
                ),
                // id, owner: gives back the lease a claim took on a saga that does not decode.
                release: format!(
                    "UPDATE {i} SET owner = NULL, lease_until_ms = NULL WHERE id = ? AND owner = ?"
                ),
                load,
            },
            // definition, definition, states, states, limit
            list: format!(
                "SELECT {cols} FROM {i} \
                 WHERE (? IS NULL OR definition = ?) \
                   AND (? = '' OR LOCATE(CONCAT(',', state, ','), ?) > 0) \
                 ORDER BY id LIMIT ?"
            ),
        }
    }
}

impl Statements {
    /// Appends the statements of a `create` (the instance row, then its `Started` record) as literals;
    /// returns how many statements that is.
    pub(super) fn create_body(&self, out: &mut String, saga: &saga::log::NewSaga) -> usize {
        let now = Dialect::MySql.now_ms();
        let id = saga.id.as_uuid().as_bytes();
        out.push_str("INSERT INTO ");
        out.push_str(&self.instances);
        out.push_str(
            " (id, definition, definition_version, state, version, owner, fence, \
             lease_until_ms, deadline_at_ms, created_at_ms, updated_at_ms) VALUES (",
        );
        lit::bytes(out, id);
        out.push(',');
        lit::text(out, &saga.definition);
        out.push(',');
        lit::int(out, i64::from(saga.definition_version));
        out.push_str(",'running',1,");
        lit::text(out, &saga.owner);
        out.push_str(",1,");
        out.push_str(now);
        out.push('+');
        lit::int(out, millis(saga.lease_ttl));
        out.push(',');
        lit::opt_int(out, saga.deadline_at_ms.map(to_i64));
        out.push(',');
        out.push_str(now);
        out.push(',');
        out.push_str(now);
        out.push_str(");INSERT INTO ");
        out.push_str(&self.logs);
        out.push_str(" (saga_id, seq, kind, payload, at_ms) VALUES (");
        lit::bytes(out, id);
        out.push_str(",1,'started',");
        lit::bytes(out, &saga.data);
        out.push(',');
        out.push_str(now);
        out.push(')');
        2
    }

    /// Appends the statements of an `append` as literals: the checked `UPDATE`, then one single-row
    /// `INSERT ... SELECT ... FROM DUAL WHERE ROW_COUNT() = 1` per record. Each insert writes its row
    /// only if the statement before it affected exactly one row, so the records are written if and only
    /// if the `UPDATE` matched. Returns how many statements that is.
    pub(super) fn append_body(&self, out: &mut String, a: &saga::log::Append<'_>) -> usize {
        let now = Dialect::MySql.now_ms();
        let id = a.id.as_uuid().as_bytes();
        let records = event_rows(a.expected_version, a.events);
        let release = if releases_lease(a.state) { "1" } else { "0" };
        out.push_str("UPDATE ");
        out.push_str(&self.instances);
        out.push_str(" SET version = version + ");
        lit::int(out, i64::try_from(records.len()).unwrap_or(i64::MAX));
        out.push_str(", state = ");
        lit::text(out, a.state.as_str());
        out.push_str(", owner = IF(");
        out.push_str(release);
        out.push_str(", NULL, owner), lease_until_ms = IF(");
        out.push_str(release);
        out.push_str(", NULL, ");
        out.push_str(now);
        out.push_str(" + ");
        lit::int(out, millis(a.lease_ttl));
        out.push_str("), updated_at_ms = ");
        out.push_str(now);
        out.push_str(" WHERE id = ");
        lit::bytes(out, id);
        out.push_str(" AND version = ");
        lit::int(out, to_i64(a.expected_version));
        out.push_str(" AND fence = ");
        lit::int(out, to_i64(a.lease.fence));
        out.push_str(" AND state NOT IN ");
        out.push_str(&self.terminal);
        if records.is_empty() {
            return 1;
        }
        for r in &records {
            out.push_str(";INSERT INTO ");
            out.push_str(&self.logs);
            out.push_str(" (saga_id, seq, kind, step, attempt, detail, payload, at_ms) SELECT ");
            lit::bytes(out, id);
            out.push(',');
            lit::int(out, r.seq);
            out.push(',');
            lit::text(out, r.kind);
            out.push(',');
            lit::opt_int(out, r.step);
            out.push(',');
            lit::opt_int(out, r.attempt);
            out.push(',');
            lit::opt_text(out, r.detail.as_deref());
            out.push(',');
            lit::opt_bytes(out, r.payload.as_deref());
            out.push(',');
            out.push_str(now);
            out.push_str(" FROM DUAL WHERE ROW_COUNT() = 1");
        }
        1 + records.len()
    }
}
