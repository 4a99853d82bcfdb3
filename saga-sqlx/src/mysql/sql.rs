//! The statements of [`MySqlSagaLog`](super::MySqlSagaLog), built once per table prefix.
//!
//! MySQL evaluates `SET` assignments left to right on the updated row, so every assignment that reads a
//! column comes before the assignment that changes it.

use crate::schema::{Dialect, Tables};

pub(super) struct Statements {
    pub(super) create: String,
    pub(super) started: String,
    pub(super) append: String,
    pub(super) record: String,
    pub(super) current: String,
    pub(super) load: String,
    pub(super) records: String,
    pub(super) claimable: String,
    pub(super) claimable_one: String,
    pub(super) take: String,
    pub(super) taken: String,
    pub(super) list: String,
}

impl Statements {
    pub(super) fn new(t: &Tables) -> Self {
        let (i, l) = (&t.instances, &t.logs);
        let now = Dialect::MySql.now_ms();
        let terminal = Dialect::terminal_states();
        let cols = "id, definition, definition_version, state, version, owner, fence, \
                    deadline_at_ms, created_at_ms, updated_at_ms";
        let free = format!("(owner = ? OR lease_until_ms IS NULL OR lease_until_ms <= {now})");
        Self {
            // id, definition, version, owner, lease ms, deadline
            create: format!(
                "INSERT INTO {i} (id, definition, definition_version, state, version, owner, fence, \
                   lease_until_ms, deadline_at_ms, created_at_ms, updated_at_ms) \
                 VALUES (?, ?, ?, 'running', 1, ?, 1, {now} + ?, ?, {now}, {now})"
            ),
            started: format!(
                "INSERT INTO {l} (saga_id, seq, kind, payload, at_ms) VALUES (?, 1, 'started', ?, {now})"
            ),
            // n, state, release, release, lease ms, id, expected, fence
            append: format!(
                "UPDATE {i} SET version = version + ?, state = ?, \
                   owner = IF(?, NULL, owner), \
                   lease_until_ms = IF(?, NULL, {now} + ?), \
                   updated_at_ms = {now} \
                 WHERE id = ? AND version = ? AND fence = ? AND state NOT IN {terminal}"
            ),
            record: format!(
                "INSERT INTO {l} (saga_id, seq, kind, step, attempt, detail, payload, at_ms) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, {now})"
            ),
            current: format!("SELECT version, fence, state FROM {i} WHERE id = ?"),
            load: format!(
                "SELECT i.id, i.definition, i.definition_version, i.state, i.version, i.owner, \
                   i.fence, i.deadline_at_ms, i.created_at_ms, i.updated_at_ms, \
                   l.seq, l.at_ms, l.kind, l.step, l.attempt, l.detail, l.payload \
                 FROM {i} i LEFT JOIN {l} l ON l.saga_id = i.id \
                 WHERE i.id = ? ORDER BY l.seq"
            ),
            records: format!(
                "SELECT seq, at_ms, kind, step, attempt, detail, payload FROM {l} \
                 WHERE saga_id = ? ORDER BY seq"
            ),
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
            // owner, owner, lease ms, id
            take: format!(
                "UPDATE {i} SET fence = IF(owner <=> ?, fence, fence + 1), owner = ?, \
                   lease_until_ms = {now} + ? WHERE id = ?"
            ),
            taken: format!("SELECT {cols} FROM {i} WHERE id = ?"),
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
