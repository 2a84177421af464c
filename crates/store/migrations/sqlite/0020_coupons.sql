-- Coupons (卡券): templates, the coupons issued to members, per-member quota counters, the
-- redemption journal (核销) with reversals, and cross-format settlement records.
-- Kept in lock step with ../postgres/0020_coupons.sql.

-- The whole configuration is `spec` (JSON); what queries filter on is also in columns.
-- `format_id`/`store_id` place the template for data scopes (its cost bearer: HQ is group-wide,
-- a format, or a merchant store). `issued_count` only grows, guarded by `total_quota`.
CREATE TABLE coupon_templates (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    spec TEXT NOT NULL,
    status TEXT NOT NULL,
    kind TEXT NOT NULL,
    format_id BLOB,
    store_id BLOB,
    issued_count INTEGER NOT NULL,
    total_quota INTEGER,
    on_registration INTEGER NOT NULL,
    on_tier_upgrade INTEGER NOT NULL,
    on_birthday INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT coupon_templates_quota_check CHECK (total_quota IS NULL OR issued_count <= total_quota)
);

-- One row per coupon, owned by a member (it follows merges). `code` is unique per tenant;
-- `natural_key` (e.g. `registration:<template>:<member>`) makes rule-based issue happen once.
CREATE TABLE coupons (
    tenant_id BLOB NOT NULL,
    member_id BLOB NOT NULL,
    id BLOB NOT NULL,
    code TEXT NOT NULL,
    template_id BLOB NOT NULL,
    state TEXT NOT NULL,
    starts_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    source TEXT NOT NULL,
    natural_key TEXT,
    issuing_format_id BLOB,
    issued_by BLOB,
    redemption_id BLOB,
    used_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, member_id, id),
    CONSTRAINT coupons_code_key UNIQUE (tenant_id, code),
    CONSTRAINT coupons_natural_key UNIQUE (tenant_id, natural_key)
);
CREATE INDEX coupons_id_idx ON coupons (tenant_id, id);
CREATE INDEX coupons_expiry_idx ON coupons (tenant_id, state, expires_at);
CREATE INDEX coupons_template_idx ON coupons (tenant_id, template_id, member_id);

-- How many coupons of a template each member was issued: the guarded counter behind
-- `per_member_quota`.
CREATE TABLE coupon_member_quotas (
    tenant_id BLOB NOT NULL,
    template_id BLOB NOT NULL,
    member_id BLOB NOT NULL,
    issued INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, template_id, member_id)
);

-- The redemption journal: one row per redemption, never deleted; a reversal sets `reversed_at`.
CREATE TABLE coupon_redemptions (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    coupon_id BLOB NOT NULL,
    template_id BLOB NOT NULL,
    code TEXT NOT NULL,
    format_id BLOB,
    store_id BLOB,
    channel_id BLOB,
    staff_id BLOB,
    api_key_id BLOB,
    order_ref TEXT,
    order_id BLOB,
    face_fen INTEGER NOT NULL,
    discount_fen INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    reversed_at TEXT,
    reversal_reason TEXT,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX coupon_redemptions_coupon_idx ON coupon_redemptions (tenant_id, coupon_id);
CREATE INDEX coupon_redemptions_order_idx ON coupon_redemptions (tenant_id, order_id);
CREATE INDEX coupon_redemptions_ref_idx ON coupon_redemptions (tenant_id, channel_id, order_ref);
CREATE INDEX coupon_redemptions_store_idx ON coupon_redemptions (tenant_id, store_id, id);

-- A coupon issued by one format and redeemed in another: what the settlement sums by period.
-- A reversal writes a record with negative amounts.
CREATE TABLE coupon_settlement_records (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    redemption_id BLOB NOT NULL,
    kind TEXT NOT NULL,
    coupon_id BLOB NOT NULL,
    template_id BLOB NOT NULL,
    issuing_format_id BLOB NOT NULL,
    redeeming_format_id BLOB NOT NULL,
    bearer_kind TEXT NOT NULL,
    bearer_id BLOB,
    face_fen INTEGER NOT NULL,
    discount_fen INTEGER NOT NULL,
    occurred_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT coupon_settlement_records_redemption_key UNIQUE (tenant_id, redemption_id, kind)
);
CREATE INDEX coupon_settlement_records_period_idx ON coupon_settlement_records (tenant_id, occurred_at);

-- Coupons issued to a merged member land on the survivor (see 0003_merge.sql).
CREATE TRIGGER coupons_follow_merge AFTER INSERT ON coupons
WHEN EXISTS (SELECT 1 FROM members WHERE tenant_id = NEW.tenant_id AND id = NEW.member_id
             AND status = 'merged' AND merged_into IS NOT NULL)
BEGIN
    UPDATE coupons
       SET member_id = (SELECT merged_into FROM members WHERE tenant_id = NEW.tenant_id AND id = NEW.member_id)
     WHERE tenant_id = NEW.tenant_id AND member_id = NEW.member_id AND id = NEW.id;
END;
