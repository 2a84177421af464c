-- Coupons (卡券): templates, the coupons issued to members, per-member quota counters, the
-- redemption journal (核销) with reversals, and cross-format settlement records.
-- Kept in lock step with ../sqlite/0020_coupons.sql.

-- The whole configuration is `spec` (JSON); what queries filter on is also in columns.
-- `format_id`/`store_id` place the template for data scopes (its cost bearer: HQ is group-wide,
-- a format, or a merchant store). `issued_count` only grows, guarded by `total_quota`.
CREATE TABLE coupon_templates (
    tenant_id UUID NOT NULL,
    id UUID NOT NULL,
    spec JSONB NOT NULL,
    status TEXT NOT NULL,
    kind TEXT NOT NULL,
    format_id UUID,
    store_id UUID,
    issued_count BIGINT NOT NULL,
    total_quota BIGINT,
    on_registration BOOLEAN NOT NULL,
    on_tier_upgrade BOOLEAN NOT NULL,
    on_birthday BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT coupon_templates_quota_check CHECK (total_quota IS NULL OR issued_count <= total_quota)
);

-- One row per coupon, owned by a member (it follows merges). `code` is unique per tenant;
-- `natural_key` (e.g. `registration:<template>:<member>`) makes rule-based issue happen once.
CREATE TABLE coupons (
    tenant_id UUID NOT NULL,
    member_id UUID NOT NULL,
    id UUID NOT NULL,
    code TEXT NOT NULL,
    template_id UUID NOT NULL,
    state TEXT NOT NULL,
    starts_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    source TEXT NOT NULL,
    natural_key TEXT,
    issuing_format_id UUID,
    issued_by UUID,
    redemption_id UUID,
    used_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
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
    tenant_id UUID NOT NULL,
    template_id UUID NOT NULL,
    member_id UUID NOT NULL,
    issued BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, template_id, member_id)
);

-- The redemption journal: one row per redemption, never deleted; a reversal sets `reversed_at`.
CREATE TABLE coupon_redemptions (
    tenant_id UUID NOT NULL,
    id UUID NOT NULL,
    coupon_id UUID NOT NULL,
    template_id UUID NOT NULL,
    code TEXT NOT NULL,
    format_id UUID,
    store_id UUID,
    channel_id UUID,
    staff_id UUID,
    api_key_id UUID,
    order_ref TEXT,
    order_id UUID,
    face_fen BIGINT NOT NULL,
    discount_fen BIGINT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    reversed_at TIMESTAMPTZ,
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
    tenant_id UUID NOT NULL,
    id UUID NOT NULL,
    redemption_id UUID NOT NULL,
    kind TEXT NOT NULL,
    coupon_id UUID NOT NULL,
    template_id UUID NOT NULL,
    issuing_format_id UUID NOT NULL,
    redeeming_format_id UUID NOT NULL,
    bearer_kind TEXT NOT NULL,
    bearer_id UUID,
    face_fen BIGINT NOT NULL,
    discount_fen BIGINT NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT coupon_settlement_records_redemption_key UNIQUE (tenant_id, redemption_id, kind)
);
CREATE INDEX coupon_settlement_records_period_idx ON coupon_settlement_records (tenant_id, occurred_at);

-- Coupons issued to a merged member land on the survivor (see 0003_merge.sql).
CREATE TRIGGER coupons_follow_merge BEFORE INSERT ON coupons
    FOR EACH ROW EXECUTE FUNCTION member_owned_follow_merge();
