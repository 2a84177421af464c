-- Settlement (积分结算, 分润): the tenant's policy, merchants' revenue split rules, and the
-- statements with their merchant lines; plus the indexes that make a period's sums range scans
-- over the time events were recorded.
-- Kept in lock step with ../sqlite/0023_settlement.sql.

-- `close_seq` only grows: closing a statement bumps it first, so concurrent closes of one tenant
-- queue on this row and the overlap check of the second sees the first.
CREATE TABLE settlement_policies (
    tenant_id UUID NOT NULL PRIMARY KEY REFERENCES tenants (tenant_id),
    mode TEXT NOT NULL,
    rate_fen BIGINT NOT NULL,
    rate_per_points BIGINT NOT NULL,
    close_seq BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE merchant_revenue_splits (
    tenant_id UUID NOT NULL,
    store_id UUID NOT NULL,
    cash_commission_bps BIGINT NOT NULL,
    points_commission_bps BIGINT NOT NULL,
    points_rate_fen BIGINT NOT NULL,
    points_rate_per_points BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, store_id)
);

-- A statement: `figures` holds the per-format lines, the inter-format matrix, coupon costs and
-- totals as computed; `status` moves draft → closed once (compare-and-set), and nothing changes
-- a closed statement.
CREATE TABLE settlement_statements (
    tenant_id UUID NOT NULL,
    id UUID NOT NULL,
    period_start TIMESTAMPTZ NOT NULL,
    period_end TIMESTAMPTZ NOT NULL,
    status TEXT NOT NULL,
    mode TEXT NOT NULL,
    figures JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    closed_at TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT settlement_statements_period_check CHECK (period_start < period_end)
);
CREATE INDEX settlement_statements_period_idx ON settlement_statements (tenant_id, status, period_start);

-- One merchant's mall revenue in a statement, in columns so a merchant's view is a scoped query.
CREATE TABLE settlement_merchant_lines (
    tenant_id UUID NOT NULL,
    statement_id UUID NOT NULL,
    store_id UUID NOT NULL,
    format_id UUID,
    redemptions BIGINT NOT NULL,
    points BIGINT NOT NULL,
    cash_fen BIGINT NOT NULL,
    points_value_fen BIGINT NOT NULL,
    gross_fen BIGINT NOT NULL,
    platform_fen BIGINT NOT NULL,
    merchant_fen BIGINT NOT NULL,
    coupon_cost_fen BIGINT NOT NULL,
    rule JSONB NOT NULL,
    PRIMARY KEY (tenant_id, statement_id, store_id),
    CONSTRAINT settlement_merchant_lines_split_check CHECK (platform_fen + merchant_fen = gross_fen)
);
CREATE INDEX settlement_merchant_lines_store_idx ON settlement_merchant_lines (tenant_id, store_id, statement_id);

-- A period's sums scan by the time events were recorded.
CREATE INDEX points_entries_created_idx ON points_entries (tenant_id, created_at);
CREATE INDEX points_lots_id_idx ON points_lots (tenant_id, id);
CREATE INDEX coupon_redemptions_created_idx ON coupon_redemptions (tenant_id, created_at);
CREATE INDEX coupon_redemptions_reversed_idx ON coupon_redemptions (tenant_id, reversed_at);
CREATE INDEX reward_redemptions_cancelled_idx ON reward_redemptions (tenant_id, cancelled_at);
-- The order list by store.
CREATE INDEX orders_store_idx ON orders (tenant_id, store_id, id);
