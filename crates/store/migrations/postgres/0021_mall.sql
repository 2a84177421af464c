-- The points mall (积分商城): the rewards catalogue, members' redemptions, and the per-member
-- counters behind redemption limits.
-- Kept in lock step with ../sqlite/0021_mall.sql.

-- `spec` is the reward's whole configuration (the domain's `RewardSpec`); the columns beside it
-- repeat what queries filter on. `stock` is NULL for an unlimited stock and otherwise only ever
-- changed by guarded updates (`stock >= q`), so it can never go below zero.
CREATE TABLE rewards (
    tenant_id UUID NOT NULL,
    id UUID NOT NULL,
    kind TEXT NOT NULL,
    spec JSONB NOT NULL,
    format_id UUID,
    supplier_store_id UUID,
    supplier_format_id UUID,
    stock BIGINT,
    archived BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT rewards_stock_check CHECK (stock IS NULL OR stock >= 0)
);

-- One redemption order (兑换订单). `format_id`/`store_id` place it for data scopes: the reward's
-- supplier store (a merchant sees its own rewards' redemptions) or else the collection store.
-- For settlement it records the points and cash, the supplier, the spending format whose
-- redemption (or donation) account claimed the points, and which formats issued them.
CREATE TABLE reward_redemptions (
    tenant_id UUID NOT NULL,
    member_id UUID NOT NULL,
    id UUID NOT NULL,
    reward_id UUID NOT NULL,
    reward_kind TEXT NOT NULL,
    reward_name TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    points BIGINT NOT NULL,
    cash_fen BIGINT NOT NULL,
    cash_payment_reference TEXT,
    state TEXT NOT NULL,
    delivery_method TEXT NOT NULL,
    collect_store_id UUID,
    shipping_enc TEXT,
    shipment JSONB,
    format_id UUID,
    store_id UUID,
    supplier_store_id UUID,
    supplier_format_id UUID,
    spending_format_id UUID,
    points_account TEXT NOT NULL,
    points_sources JSONB NOT NULL,
    spend_entry_id UUID NOT NULL,
    limit_keys JSONB NOT NULL,
    stock_taken BOOLEAN NOT NULL,
    channel_id UUID,
    collected_store_id UUID,
    cancel_reason TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    shipped_at TIMESTAMPTZ,
    collected_at TIMESTAMPTZ,
    completed_at TIMESTAMPTZ,
    cancelled_at TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, member_id, id),
    CONSTRAINT reward_redemptions_id_key UNIQUE (tenant_id, id),
    CONSTRAINT reward_redemptions_amounts_check CHECK (quantity > 0 AND points > 0 AND cash_fen >= 0)
);
CREATE INDEX reward_redemptions_member_idx ON reward_redemptions (tenant_id, member_id, state);
CREATE INDEX reward_redemptions_store_idx ON reward_redemptions (tenant_id, store_id, state);
CREATE INDEX reward_redemptions_reward_idx ON reward_redemptions (tenant_id, reward_id);
CREATE INDEX reward_redemptions_created_idx ON reward_redemptions (tenant_id, created_at);

-- Units a member redeemed of a reward: all time (`period_key` = 'total') and per limit period
-- ('m2026-11' …, in the tenant's zone). Taken with one guarded upsert (`used + q <= limit`),
-- given back on cancellation.
CREATE TABLE reward_limit_counters (
    tenant_id UUID NOT NULL,
    member_id UUID NOT NULL,
    id UUID NOT NULL,
    reward_id UUID NOT NULL,
    period_key TEXT NOT NULL,
    used BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, member_id, id),
    CONSTRAINT reward_limit_counters_key UNIQUE (tenant_id, member_id, reward_id, period_key),
    CONSTRAINT reward_limit_counters_used_check CHECK (used >= 0)
);

-- Member-owned rows written for a merged member land on the survivor (see 0003_merge.sql).
CREATE TRIGGER reward_redemptions_follow_merge BEFORE INSERT ON reward_redemptions
    FOR EACH ROW EXECUTE FUNCTION member_owned_follow_merge();
CREATE TRIGGER reward_limit_counters_follow_merge BEFORE INSERT ON reward_limit_counters
    FOR EACH ROW EXECUTE FUNCTION member_owned_follow_merge();
