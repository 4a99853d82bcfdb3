//! The statements of [`PostgresSagaLog`](super::PostgresSagaLog), built once per table prefix.

use crate::schema::{Dialect, Tables};

pub(super) struct Statements {
    pub(super) create: String,
    pub(super) append: String,
    pub(super) batch: String,
    pub(super) current: String,
    pub(super) current_of: String,
    pub(super) load: String,
    pub(super) release: String,
    pub(super) claim_recoverable: String,
    pub(super) claim_one: String,
    pub(super) list: String,
}

impl Statements {
    pub(super) fn new(t: &Tables) -> Self {
        let (i, l) = (&t.instances, &t.logs);
        let now = Dialect::Postgres.now_ms();
        let terminal = Dialect::terminal_states();
        let cols = "id, definition, definition_version, state, version, owner, fence, \
                    deadline_at_ms, created_at_ms, updated_at_ms";
        let t_cols = "t.id, t.definition, t.definition_version, t.state, t.version, t.owner, \
                      t.fence, t.deadline_at_ms, t.created_at_ms, t.updated_at_ms";
        // The claimed rows of `upd` with their records, in the shape of `load`.
        let claimed = format!(
            "SELECT u.id, u.definition, u.definition_version, u.state, u.version, u.owner, \
               u.fence, u.deadline_at_ms, u.created_at_ms, u.updated_at_ms, \
               l.seq, l.at_ms, l.kind, l.step, l.attempt, l.detail, l.payload \
             FROM upd u LEFT JOIN {l} l ON l.saga_id = u.id ORDER BY u.id, l.seq"
        );
        Self {
            // $1 id, $2 definition, $3 definition version, $4 owner, $5 lease ms, $6 deadline, $7 data
            create: format!(
                "WITH ins AS (\
                   INSERT INTO {i} (id, definition, definition_version, state, version, owner, fence, \
                     lease_until_ms, deadline_at_ms, created_at_ms, updated_at_ms) \
                   SELECT $1, $2, $3, 'running', 1, $4, 1, n.now + $5, $6, n.now, n.now \
                   FROM (SELECT {now} AS now) n \
                   ON CONFLICT (id) DO NOTHING RETURNING id, created_at_ms) \
                 INSERT INTO {l} (saga_id, seq, kind, payload, at_ms) \
                 SELECT id, 1, 'started', $7, created_at_ms FROM ins"
            ),
            // $1 id, $2 expected version, $3 fence, $4 event count, $5 state, $6 release lease,
            // $7 lease ms, $8.. event columns
            append: format!(
                "WITH n AS (SELECT {now} AS now), \
                 upd AS (\
                   UPDATE {i} SET version = version + $4, state = $5, \
                     owner = CASE WHEN $6 THEN NULL ELSE owner END, \
                     lease_until_ms = CASE WHEN $6 THEN NULL ELSE (SELECT now FROM n) + $7 END, \
                     updated_at_ms = (SELECT now FROM n) \
                   WHERE id = $1 AND version = $2 AND fence = $3 AND state NOT IN {terminal} \
                   RETURNING id, version), \
                 ins AS (\
                   INSERT INTO {l} (saga_id, seq, kind, step, attempt, detail, payload, at_ms) \
                   SELECT upd.id, e.seq, e.kind, e.step, e.attempt, e.detail, e.payload, n.now \
                   FROM upd, n, UNNEST($8::BIGINT[], $9::TEXT[], $10::BIGINT[], $11::BIGINT[], \
                     $12::TEXT[], $13::BYTEA[]) AS e(seq, kind, step, attempt, detail, payload)) \
                 SELECT version FROM upd"
            ),
            // A group-commit batch in one statement (ids unique within it). Creates:
            // $1 ids, $2 definitions, $3 definition versions, $4 owners, $5 lease ms, $6 deadlines,
            // $7 data. Appends: $8 ids, $9 expected versions, $10 fences, $11 event counts, $12 states,
            // $13 release lease, $14 lease ms. Events of the appends: $15 saga ids, $16.. columns.
            // Returns (id, version) of every create (version 1) and append that matched its row; the
            // others are diagnosed one by one.
            batch: format!(
                "WITH n AS MATERIALIZED (SELECT {now} AS now), \
                 c AS MATERIALIZED (SELECT * FROM UNNEST($1::UUID[], $2::TEXT[], $3::BIGINT[], \
                   $4::TEXT[], $5::BIGINT[], $6::BIGINT[], $7::BYTEA[]) \
                   AS c(id, definition, definition_version, owner, lease_ms, deadline, data)), \
                 ins AS (\
                   INSERT INTO {i} (id, definition, definition_version, state, version, owner, fence, \
                     lease_until_ms, deadline_at_ms, created_at_ms, updated_at_ms) \
                   SELECT c.id, c.definition, c.definition_version, 'running', 1, c.owner, 1, \
                     n.now + c.lease_ms, c.deadline, n.now, n.now FROM c, n \
                   ON CONFLICT (id) DO NOTHING RETURNING id, created_at_ms), \
                 started AS (\
                   INSERT INTO {l} (saga_id, seq, kind, payload, at_ms) \
                   SELECT ins.id, 1, 'started', c.data, ins.created_at_ms FROM ins JOIN c ON c.id = ins.id), \
                 a AS MATERIALIZED (SELECT * FROM UNNEST($8::UUID[], $9::BIGINT[], $10::BIGINT[], \
                   $11::BIGINT[], $12::TEXT[], $13::BOOL[], $14::BIGINT[]) \
                   AS a(id, expected, fence, n, state, release, lease_ms)), \
                 upd AS (\
                   UPDATE {i} t SET version = t.version + a.n, state = a.state, \
                     owner = CASE WHEN a.release THEN NULL ELSE t.owner END, \
                     lease_until_ms = CASE WHEN a.release THEN NULL ELSE n.now + a.lease_ms END, \
                     updated_at_ms = n.now \
                   FROM a, n \
                   WHERE t.id = a.id AND t.version = a.expected AND t.fence = a.fence \
                     AND t.state NOT IN {terminal} \
                   RETURNING t.id, t.version), \
                 recs AS (\
                   INSERT INTO {l} (saga_id, seq, kind, step, attempt, detail, payload, at_ms) \
                   SELECT upd.id, e.seq, e.kind, e.step, e.attempt, e.detail, e.payload, n.now \
                   FROM upd JOIN UNNEST($15::UUID[], $16::BIGINT[], $17::TEXT[], $18::BIGINT[], \
                     $19::BIGINT[], $20::TEXT[], $21::BYTEA[]) \
                     AS e(saga_id, seq, kind, step, attempt, detail, payload) ON e.saga_id = upd.id, n) \
                 SELECT id, version FROM upd UNION ALL SELECT id, 1::BIGINT FROM ins"
            ),
            current: format!("SELECT version, fence, state FROM {i} WHERE id = $1"),
            current_of: format!("SELECT id, version, fence, state FROM {i} WHERE id = ANY($1)"),
            load: format!(
                "SELECT i.id, i.definition, i.definition_version, i.state, i.version, i.owner, \
                   i.fence, i.deadline_at_ms, i.created_at_ms, i.updated_at_ms, \
                   l.seq, l.at_ms, l.kind, l.step, l.attempt, l.detail, l.payload \
                 FROM {i} i LEFT JOIN {l} l ON l.saga_id = i.id \
                 WHERE i.id = $1 ORDER BY l.seq"
            ),
            // $1 definition, $2 version, $3 owner, $4 lease ms, $5 limit, $6 after (or NULL). Returns
            // the claimed instances joined with their records, like `load`, in (id, seq) order.
            claim_recoverable: format!(
                "WITH n AS (SELECT {now} AS now), \
                 c AS (\
                   SELECT id FROM {i} \
                   WHERE definition = $1 AND definition_version = $2 \
                     AND state IN ('running','compensating') \
                     AND ($6::UUID IS NULL OR id > $6) \
                     AND (owner = $3 OR lease_until_ms IS NULL \
                          OR lease_until_ms <= (SELECT now FROM n)) \
                   ORDER BY id LIMIT $5 FOR UPDATE SKIP LOCKED), \
                 upd AS (\
                   UPDATE {i} t SET fence = CASE WHEN t.owner = $3 THEN t.fence ELSE t.fence + 1 END, \
                     owner = $3, lease_until_ms = (SELECT now FROM n) + $4 \
                   FROM c WHERE t.id = c.id RETURNING {t_cols}) \
                 {claimed}"
            ),
            // $1 definition, $2 version, $3 owner, $4 lease ms, $5 id
            claim_one: format!(
                "WITH n AS (SELECT {now} AS now), \
                 upd AS (\
                   UPDATE {i} t SET fence = CASE WHEN t.owner = $3 THEN t.fence ELSE t.fence + 1 END, \
                     owner = $3, lease_until_ms = (SELECT now FROM n) + $4 \
                   WHERE t.id = $5 AND t.definition = $1 AND t.definition_version = $2 \
                     AND t.state NOT IN {terminal} \
                     AND (t.owner = $3 OR t.lease_until_ms IS NULL \
                          OR t.lease_until_ms <= (SELECT now FROM n)) \
                   RETURNING {t_cols}) \
                 {claimed}"
            ),
            // $1 ids, $2 owner: gives back the leases a claim took on sagas that do not decode.
            release: format!(
                "UPDATE {i} SET owner = NULL, lease_until_ms = NULL WHERE id = ANY($1) AND owner = $2"
            ),
            // $1 definition or NULL, $2 states (empty: all), $3 limit
            list: format!(
                "SELECT {cols} FROM {i} \
                 WHERE ($1::TEXT IS NULL OR definition = $1) \
                   AND (cardinality($2::TEXT[]) = 0 OR state = ANY($2)) \
                 ORDER BY id LIMIT $3"
            ),
        }
    }
}
