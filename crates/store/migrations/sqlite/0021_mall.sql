-- The points mall (积分商城): the rewards catalogue, members' redemptions, and the per-member
-- counters behind redemption limits.
-- Kept in lock step with ../postgres/0021_mall.sql.

-- `spec` is the reward's whole configuration (the domain's `RewardSpec`); the columns beside it
-- repeat what queries filter on. `stock` is NULL for an unlimited stock and otherwise only ever
-- changed by guarded updates (`stock >= q`), so it can never go below zero.
CREATE TABLE rewards (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    kind TEXT NOT NULL,
    spec TEXT NOT NULL,
    format_id BLOB,
    supplier_store_id BLOB,
    supplier_format_id BLOB,
    stock INTEGER,
    archived INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT rewards_stock_check CHECK (stock IS NULL OR stock >= 0)
);

-- One redemption order (兑换订单). `format_id`/`store_id` place it for data scopes: the reward's
-- supplier store (a merchant sees its own rewards' redemptions) or else the collection store.
-- For settlement it records the points and cash, the supplier, the spending format whose
-- redemption (or donation) account claimed the points, and which formats issued them.
CREATE TABLE reward_redemptions (
    tenant_id BLOB NOT NULL,
    member_id BLOB NOT NULL,
    id BLOB NOT NULL,
    reward_id BLOB NOT NULL,
    reward_kind TEXT NOT NULL,
    reward_name TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    points INTEGER NOT NULL,
    cash_fen INTEGER NOT NULL,
    cash_payment_reference TEXT,
    state TEXT NOT NULL,
    delivery_method TEXT NOT NULL,
    collect_store_id BLOB,
    shipping_enc TEXT,
    shipment TEXT,
    format_id BLOB,
    store_id BLOB,
    supplier_store_id BLOB,
    supplier_format_id BLOB,
    spending_format_id BLOB,
    points_account TEXT NOT NULL,
    points_sources TEXT NOT NULL,
    spend_entry_id BLOB NOT NULL,
    limit_keys TEXT NOT NULL,
    stock_taken INTEGER NOT NULL,
    channel_id BLOB,
    collected_store_id BLOB,
    cancel_reason TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    shipped_at TEXT,
    collected_at TEXT,
    completed_at TEXT,
    cancelled_at TEXT,
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
    tenant_id BLOB NOT NULL,
    member_id BLOB NOT NULL,
    id BLOB NOT NULL,
    reward_id BLOB NOT NULL,
    period_key TEXT NOT NULL,
    used INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, member_id, id),
    CONSTRAINT reward_limit_counters_key UNIQUE (tenant_id, member_id, reward_id, period_key),
    CONSTRAINT reward_limit_counters_used_check CHECK (used >= 0)
);

-- Member-owned rows written for a merged member land on the survivor (see 0003_merge.sql).
CREATE TRIGGER reward_redemptions_follow_merge AFTER INSERT ON reward_redemptions
WHEN EXISTS (SELECT 1 FROM members WHERE tenant_id = NEW.tenant_id AND id = NEW.member_id
             AND status = 'merged' AND merged_into IS NOT NULL)
BEGIN
    UPDATE reward_redemptions
       SET member_id = (SELECT merged_into FROM members WHERE tenant_id = NEW.tenant_id AND id = NEW.member_id)
     WHERE tenant_id = NEW.tenant_id AND member_id = NEW.member_id AND id = NEW.id;
END;

CREATE TRIGGER reward_limit_counters_follow_merge AFTER INSERT ON reward_limit_counters
WHEN EXISTS (SELECT 1 FROM members WHERE tenant_id = NEW.tenant_id AND id = NEW.member_id
             AND status = 'merged' AND merged_into IS NOT NULL)
BEGIN
    UPDATE reward_limit_counters
       SET member_id = (SELECT merged_into FROM members WHERE tenant_id = NEW.tenant_id AND id = NEW.member_id)
     WHERE tenant_id = NEW.tenant_id AND member_id = NEW.member_id AND id = NEW.id;
END;
