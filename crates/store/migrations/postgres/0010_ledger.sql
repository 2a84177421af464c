-- The points ledger: balances per member (changed only by guarded updates in the same transaction
-- as their entries), lots with expiry, and the append-only double-entry journal.
-- Kept in lock step with ../sqlite/0010_ledger.sql.

CREATE TABLE points_balances (
    tenant_id UUID NOT NULL,
    member_id UUID NOT NULL,
    available BIGINT NOT NULL DEFAULT 0,
    pending BIGINT NOT NULL DEFAULT 0,
    tier_points BIGINT NOT NULL DEFAULT 0,
    lifetime_earned BIGINT NOT NULL DEFAULT 0,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, member_id),
    CONSTRAINT points_balances_pending_check CHECK (pending >= 0)
);

CREATE TABLE points_lots (
    tenant_id UUID NOT NULL,
    member_id UUID NOT NULL,
    id UUID NOT NULL,
    entry_id UUID NOT NULL,
    format_id UUID,
    earned_at TIMESTAMPTZ NOT NULL,
    available_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ,
    pending BOOLEAN NOT NULL,
    original BIGINT NOT NULL,
    remaining BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, member_id, id),
    CONSTRAINT points_lots_remaining_check CHECK (remaining >= 0 AND remaining <= original)
);
CREATE INDEX points_lots_expiry_idx ON points_lots (tenant_id, expires_at);
CREATE INDEX points_lots_release_idx ON points_lots (tenant_id, pending, available_at);

CREATE TABLE points_entries (
    tenant_id UUID NOT NULL,
    member_id UUID NOT NULL,
    id UUID NOT NULL,
    kind TEXT NOT NULL,
    amount BIGINT NOT NULL,
    debit_account TEXT NOT NULL,
    credit_account TEXT NOT NULL,
    format_id UUID,
    reference TEXT,
    reason TEXT NOT NULL,
    draws JSONB NOT NULL,
    natural_key TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, member_id, id),
    CONSTRAINT points_entries_amount_check CHECK (amount > 0),
    CONSTRAINT points_entries_natural_key UNIQUE (tenant_id, natural_key)
);

-- Each tenant's points policy; absent means the defaults (see the server's ledger module).
CREATE TABLE points_policies (
    tenant_id UUID NOT NULL PRIMARY KEY REFERENCES tenants (tenant_id),
    expiry JSONB NOT NULL,
    pending_days BIGINT NOT NULL,
    fen_per_100_points BIGINT NOT NULL,
    overdraft_limit BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
