-- Fewer pages written per commit on the credit hot path (each dirty page is one WAL frame).
--
-- The ledger: nothing looks entries up by request id (statements join them to usage records
-- through the usage table's own key), and its ids need no AUTOINCREMENT, which writes a row of
-- `sqlite_sequence` on every insert: the table is append-only, so a plain rowid key already
-- gives every entry a larger id than any before it.
CREATE TABLE ledger_entries_new (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    grant_id TEXT NOT NULL,
    programme_id TEXT NOT NULL,
    org_id TEXT NOT NULL,
    reservation_id TEXT,
    request_id TEXT,
    d_amount BIGINT NOT NULL DEFAULT 0,
    d_spent BIGINT NOT NULL DEFAULT 0,
    d_reserved BIGINT NOT NULL DEFAULT 0,
    actor TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (reservation_id, kind)
);
INSERT INTO ledger_entries_new (id, kind, grant_id, programme_id, org_id, reservation_id,
    request_id, d_amount, d_spent, d_reserved, actor, created_at)
    SELECT id, kind, grant_id, programme_id, org_id, reservation_id, request_id, d_amount,
    d_spent, d_reserved, actor, created_at FROM ledger_entries;
DROP TABLE ledger_entries;
ALTER TABLE ledger_entries_new RENAME TO ledger_entries;

-- Reservations are found only by their id, so the table is keyed by it (one B-tree instead of
-- a rowid table plus a unique index on the id).
CREATE TABLE reservations_by_id (
    id TEXT PRIMARY KEY,
    request_id TEXT NOT NULL,
    grant_id TEXT NOT NULL REFERENCES grants(id),
    org_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    key_id TEXT NOT NULL,
    model TEXT NOT NULL,
    amount BIGINT NOT NULL CHECK (amount > 0),
    cost BIGINT,
    status TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    settled_at BIGINT,
    caps TEXT
) WITHOUT ROWID;
INSERT INTO reservations_by_id SELECT id, request_id, grant_id, org_id, project_id, key_id, model,
    amount, cost, status, expires_at, created_at, settled_at, caps FROM reservations;
DROP TABLE reservations;
ALTER TABLE reservations_by_id RENAME TO reservations;
CREATE INDEX reservations_held ON reservations(expires_at) WHERE status = 'held';
