//! The statements of [`SqliteSagaLog`](super::SqliteSagaLog), built once per table prefix.

use crate::claim::TakeSql;
use crate::schema::{Dialect, Tables};

pub(super) struct Statements {
    /// The instance insert and its `Started` record, one command.
    pub(super) create: String,
    /// `appends[n - 1]`: the checked update and `n` records, one command (n = 1..=4; more are built
    /// on demand by [`Statements::append`]).
    appends: Vec<String>,
    append_head: String,
    record_tail: String,
    pub(super) current: String,
    pub(super) load: String,
    pub(super) claimable: String,
    pub(super) claimable_one: String,
    /// The take, read-back and release of a claim's candidates.
    pub(super) taking: TakeSql,
    pub(super) list: String,
}

impl Statements {
    pub(super) fn new(t: &Tables) -> Self {
        let (i, l) = (&t.instances, &t.logs);
        let now = Dialect::Sqlite.now_ms();
        let terminal = Dialect::terminal_states();
        let cols = "id, definition, definition_version, state, version, owner, fence, \
                    deadline_at_ms, created_at_ms, updated_at_ms";
        let free = format!("(owner = ?3 OR lease_until_ms IS NULL OR lease_until_ms <= {now})");
        let load = format!(
            "SELECT i.id, i.definition, i.definition_version, i.state, i.version, i.owner, \
               i.fence, i.deadline_at_ms, i.created_at_ms, i.updated_at_ms, \
               l.seq, l.at_ms, l.kind, l.step, l.attempt, l.detail, l.payload \
             FROM {i} i LEFT JOIN {l} l ON l.saga_id = i.id \
             WHERE i.id = ?1 ORDER BY l.seq"
        );
        Self {
            // ?1 id, ?2 definition, ?3 version, ?4 owner, ?5 lease ms, ?6 deadline, ?7 data. The
            // record is inserted only if the instance was (`changes()` counts the statement before).
            create: format!(
                "INSERT INTO {i} (id, definition, definition_version, state, version, owner, fence, \
                   lease_until_ms, deadline_at_ms, created_at_ms, updated_at_ms) \
                 VALUES (?1, ?2, ?3, 'running', 1, ?4, 1, {now} + ?5, ?6, {now}, {now}) \
                 ON CONFLICT (id) DO NOTHING; \
                 INSERT INTO {l} (saga_id, seq, kind, payload, at_ms) \
                 SELECT ?1, 1, 'started', ?7, {now} WHERE changes() = 1"
            ),
            appends: Vec::new(),
            // ?1 id, ?2 expected, ?3 fence, ?4 n, ?5 state, ?6 release, ?7 lease ms
            append_head: format!(
                "UPDATE {i} SET version = version + ?4, state = ?5, \
                   owner = CASE WHEN ?6 THEN NULL ELSE owner END, \
                   lease_until_ms = CASE WHEN ?6 THEN NULL ELSE {now} + ?7 END, \
                   updated_at_ms = {now} \
                 WHERE id = ?1 AND version = ?2 AND fence = ?3 AND state NOT IN {terminal}"
            ),
            // Each record: seq, kind, step, attempt, detail, payload; written only if the statement
            // before it (the update, or the previous record) changed exactly one row.
            record_tail: format!(
                "INSERT INTO {l} (saga_id, seq, kind, step, attempt, detail, payload, at_ms) \
                 SELECT ?1, ?{{0}}, ?{{1}}, ?{{2}}, ?{{3}}, ?{{4}}, ?{{5}}, {now} WHERE changes() = 1"
            ),
            current: format!("SELECT version, fence, state FROM {i} WHERE id = ?1"),
            load: load.clone(),
            // ?1 definition, ?2 version, ?3 owner, ?4 after (NULL = none), ?5 limit
            claimable: format!(
                "SELECT id FROM {i} WHERE definition = ?1 AND definition_version = ?2 \
                   AND state IN ('running','compensating') AND (?4 IS NULL OR id > ?4) AND {free} \
                 ORDER BY id LIMIT ?5"
            ),
            // ?1 definition, ?2 version, ?3 owner, ?4 id
            claimable_one: format!(
                "SELECT id FROM {i} WHERE id = ?4 AND definition = ?1 AND definition_version = ?2 \
                   AND state NOT IN {terminal} AND {free}"
            ),
            taking: TakeSql {
                // ?1 owner, ?2 owner, ?3 lease ms, ?4 id (the parameters of MySQL's take)
                take: format!(
                    "UPDATE {i} SET fence = CASE WHEN owner IS ?1 THEN fence ELSE fence + 1 END, \
                       owner = ?2, lease_until_ms = {now} + ?3 \
                     WHERE id = ?4"
                ),
                // ?1 id, ?2 owner: gives back the lease a claim took on a saga that does not decode.
                release: format!(
                    "UPDATE {i} SET owner = NULL, lease_until_ms = NULL WHERE id = ?1 AND owner = ?2"
                ),
                load,
            },
            // ?1 definition (NULL = any), ?2 ",state,state," ('' = any), ?3 limit
            list: format!(
                "SELECT {cols} FROM {i} \
                 WHERE (?1 IS NULL OR definition = ?1) \
                   AND (?2 = '' OR instr(?2, ',' || state || ',') > 0) \
                 ORDER BY id LIMIT ?3"
            ),
        }
    }
}

impl Statements {
    /// The append command for `n` records: the checked update, then one single-row insert per record
    /// that writes only if the statement before it changed exactly one row. Parameters: ?1..?7 as in
    /// the update, then six per record from ?8.
    pub(super) fn append(&self, n: usize) -> std::borrow::Cow<'_, str> {
        match self.appends.get(n.wrapping_sub(1)) {
            Some(s) => std::borrow::Cow::Borrowed(s),
            None => std::borrow::Cow::Owned(self.build_append(n)),
        }
    }

    fn build_append(&self, n: usize) -> String {
        let mut s = self.append_head.clone();
        for k in 0..n {
            let base = 8 + 6 * k;
            let mut tail = self.record_tail.clone();
            for (j, p) in ["{0}", "{1}", "{2}", "{3}", "{4}", "{5}"]
                .iter()
                .enumerate()
            {
                tail = tail.replace(p, &(base + j).to_string());
            }
            s.push_str("; ");
            s.push_str(&tail);
        }
        s
    }

    pub(super) fn with_prebuilt_appends(mut self) -> Self {
        self.appends = (1..=4).map(|n| self.build_append(n)).collect();
        self
    }
}
