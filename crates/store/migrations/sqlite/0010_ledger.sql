-- The points ledger: balances per member (changed only by guarded updates in the same transaction
-- as their entries), lots with expiry, and the append-only double-entry journal.
-- Kept in lock step with ../postgres/0010_ledger.sql.

CREATE TABLE points_balances (
    tenant_id BLOB NOT NULL,
    member_id BLOB NOT NULL,
    available INTEGER NOT NULL DEFAULT 0,
    pending INTEGER NOT NULL DEFAULT 0,
    tier_points INTEGER NOT NULL DEFAULT 0,
    lifetime_earned INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, member_id),
    CONSTRAINT points_balances_pending_check CHECK (pending >= 0)
);

CREATE TABLE points_lots (
    tenant_id BLOB NOT NULL,
    member_id BLOB NOT NULL,
    id BLOB NOT NULL,
    entry_id BLOB NOT NULL,
    format_id BLOB,
    earned_at TEXT NOT NULL,
    available_at TEXT NOT NULL,
    expires_at TEXT,
    pending INTEGER NOT NULL,
    original INTEGER NOT NULL,
    remaining INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, member_id, id),
    CONSTRAINT points_lots_remaining_check CHECK (remaining >= 0 AND remaining <= original)
);
CREATE INDEX points_lots_expiry_idx ON points_lots (tenant_id, expires_at);
CREATE INDEX points_lots_release_idx ON points_lots (tenant_id, pending, available_at);

CREATE TABLE points_entries (
    tenant_id BLOB NOT NULL,
    member_id BLOB NOT NULL,
    id BLOB NOT NULL,
    kind TEXT NOT NULL,
    amount INTEGER NOT NULL,
    debit_account TEXT NOT NULL,
    credit_account TEXT NOT NULL,
    format_id BLOB,
    reference TEXT,
    reason TEXT NOT NULL,
    draws TEXT NOT NULL,
    natural_key TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, member_id, id),
    CONSTRAINT points_entries_amount_check CHECK (amount > 0),
    CONSTRAINT points_entries_natural_key UNIQUE (tenant_id, natural_key)
);

-- Each tenant's points policy; absent means the defaults (see the server's ledger module).
CREATE TABLE points_policies (
    tenant_id BLOB NOT NULL PRIMARY KEY REFERENCES tenants (tenant_id),
    expiry TEXT NOT NULL,
    pending_days INTEGER NOT NULL,
    fen_per_100_points INTEGER NOT NULL,
    overdraft_limit INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);
