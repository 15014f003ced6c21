-- Compute credits: programmes, grants, reservations and the append-only ledger.
-- All amounts are integer milli-won. The CHECK constraints restate the invariants the
-- conditional updates already keep, so no code path can break them silently.
CREATE TABLE programmes (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    sponsor TEXT NOT NULL,
    currency TEXT NOT NULL,
    budget BIGINT NOT NULL CHECK (budget > 0),
    allocated BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    CHECK (allocated >= 0 AND allocated <= budget)
);
CREATE TABLE grants (
    id TEXT PRIMARY KEY,
    programme_id TEXT NOT NULL REFERENCES programmes(id),
    org_id TEXT NOT NULL REFERENCES orgs(id),
    amount BIGINT NOT NULL,
    spent BIGINT NOT NULL DEFAULT 0,
    reserved BIGINT NOT NULL DEFAULT 0,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT,
    models TEXT,
    providers TEXT,
    status TEXT NOT NULL DEFAULT 'active',
    created_at BIGINT NOT NULL,
    CHECK (spent >= 0 AND reserved >= 0 AND spent + reserved <= amount)
);
CREATE INDEX grants_org ON grants(org_id);
CREATE INDEX grants_programme ON grants(programme_id, id);
CREATE TABLE reservations (
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
);
CREATE INDEX reservations_request ON reservations(request_id);
CREATE INDEX reservations_held ON reservations(status, expires_at);
CREATE TABLE ledger_entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
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
CREATE INDEX ledger_grant ON ledger_entries(grant_id);
CREATE INDEX ledger_request ON ledger_entries(request_id);
CREATE INDEX usage_request_grant ON usage_records(grant_id, created_at);
-- Spending caps of keys and projects per day or month: what reservations hold and settlements
-- charged in the period, kept under the cap by conditional updates like the grants.
CREATE TABLE spend_counters (
    subject TEXT NOT NULL,
    period TEXT NOT NULL,
    used BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (subject, period)
);
