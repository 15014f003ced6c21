CREATE TABLE orgs (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    limits TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL
);
CREATE TABLE projects (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(id),
    name TEXT NOT NULL,
    limits TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL
);
CREATE INDEX projects_org ON projects(org_id, id);
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL REFERENCES projects(id),
    org_id TEXT NOT NULL REFERENCES orgs(id),
    name TEXT,
    prefix TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    limits TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX api_keys_project ON api_keys(project_id, id);
CREATE TABLE members (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    scope TEXT,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE TABLE usage_records (
    request_id TEXT PRIMARY KEY,
    client_request_id TEXT,
    org_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    key_id TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    model TEXT NOT NULL,
    provider TEXT,
    upstream_model TEXT,
    prompt_tokens BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    usage_estimated BIGINT NOT NULL,
    cost BIGINT NOT NULL,
    input_price BIGINT NOT NULL,
    output_price BIGINT NOT NULL,
    grant_id TEXT,
    latency_ms BIGINT NOT NULL,
    ttft_ms BIGINT,
    status BIGINT NOT NULL,
    error_code TEXT,
    stream BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX usage_project_time ON usage_records(project_id, created_at);
CREATE INDEX usage_org_time ON usage_records(org_id, created_at);
CREATE INDEX usage_time ON usage_records(created_at);
CREATE TABLE audit_log (
    id BIGSERIAL PRIMARY KEY,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    detail TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
