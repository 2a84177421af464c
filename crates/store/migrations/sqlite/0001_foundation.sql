-- Foundation: tenants, organisation, staff and credentials, audit log, idempotency.
-- Kept in lock step with ../postgres/0001_foundation.sql (a test compares the two schemas).
-- Types: UUID -> BLOB, TIMESTAMPTZ -> TEXT (UTC), BOOLEAN -> INTEGER, JSONB -> TEXT.

CREATE TABLE tenants (
    tenant_id BLOB NOT NULL PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    time_zone TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE formats (
    tenant_id BLOB NOT NULL REFERENCES tenants (tenant_id),
    id BLOB NOT NULL,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    archived INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT formats_code_key UNIQUE (tenant_id, code)
);

CREATE TABLE stores (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    format_id BLOB NOT NULL,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    address TEXT NOT NULL,
    archived INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT stores_code_key UNIQUE (tenant_id, code),
    FOREIGN KEY (tenant_id, format_id) REFERENCES formats (tenant_id, id)
);
CREATE INDEX stores_format_idx ON stores (tenant_id, format_id, id);

CREATE TABLE channels (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    format_id BLOB,
    app_id TEXT,
    archived INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT channels_code_key UNIQUE (tenant_id, code),
    FOREIGN KEY (tenant_id, format_id) REFERENCES formats (tenant_id, id)
);

CREATE TABLE roles (
    tenant_id BLOB NOT NULL REFERENCES tenants (tenant_id),
    id BLOB NOT NULL,
    name TEXT NOT NULL,
    permissions TEXT NOT NULL,
    builtin INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT roles_name_key UNIQUE (tenant_id, name)
);

CREATE TABLE staff (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    username TEXT NOT NULL,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    role_id BLOB NOT NULL,
    scope TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT staff_username_key UNIQUE (tenant_id, username),
    FOREIGN KEY (tenant_id, role_id) REFERENCES roles (tenant_id, id)
);

CREATE TABLE sessions (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    staff_id BLOB NOT NULL,
    token_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT sessions_token_key UNIQUE (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, staff_id) REFERENCES staff (tenant_id, id)
);

CREATE TABLE api_keys (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    name TEXT NOT NULL,
    channel_id BLOB NOT NULL,
    store_id BLOB,
    permissions TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    key_prefix TEXT NOT NULL,
    created_by BLOB,
    created_at TEXT NOT NULL,
    revoked_at TEXT,
    last_used_at TEXT,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT api_keys_hash_key UNIQUE (tenant_id, key_hash),
    FOREIGN KEY (tenant_id, channel_id) REFERENCES channels (tenant_id, id),
    FOREIGN KEY (tenant_id, store_id) REFERENCES stores (tenant_id, id)
);

CREATE TABLE audit_log (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id BLOB,
    credential_id BLOB,
    action TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id TEXT NOT NULL,
    summary TEXT NOT NULL,
    request_id TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX audit_log_target_idx ON audit_log (tenant_id, target_type, target_id, id);
CREATE INDEX audit_log_actor_idx ON audit_log (tenant_id, actor_id, id);

CREATE TABLE idempotency_keys (
    tenant_id BLOB NOT NULL,
    actor_id BLOB NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    response_body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, actor_id, idempotency_key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
