-- Orders from every channel, their lines, payments and refunds; earning rules and what each rule
-- gave each member (the counters behind day and period caps).
-- Kept in lock step with ../sqlite/0011_orders.sql.

-- One row per (channel, external order id): a retry of the same order finds it.
-- `member_id` is NULL for an anonymous order until a member claims it (补积分).
CREATE TABLE orders (
    tenant_id UUID NOT NULL,
    id UUID NOT NULL,
    member_id UUID,
    channel_id UUID NOT NULL,
    external_id TEXT NOT NULL,
    store_id UUID,
    format_id UUID NOT NULL,
    guide_id UUID,
    occurred_at TIMESTAMPTZ NOT NULL,
    total_fen BIGINT NOT NULL,
    paid_by_points_fen BIGINT NOT NULL,
    paid_by_coupons_fen BIGINT NOT NULL,
    refunded_fen BIGINT NOT NULL,
    status TEXT NOT NULL,
    points_earned BIGINT NOT NULL,
    points_reversed BIGINT NOT NULL,
    accrual JSONB,
    claimed_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT orders_external_key UNIQUE (tenant_id, channel_id, external_id),
    CONSTRAINT orders_amounts_check CHECK (total_fen >= 0 AND refunded_fen >= 0 AND refunded_fen <= total_fen)
);
CREATE INDEX orders_member_idx ON orders (tenant_id, member_id, occurred_at);
CREATE INDEX orders_occurred_idx ON orders (tenant_id, occurred_at);

CREATE TABLE order_lines (
    tenant_id UUID NOT NULL,
    order_id UUID NOT NULL,
    line_no BIGINT NOT NULL,
    sku TEXT NOT NULL,
    name TEXT NOT NULL,
    category_path JSONB NOT NULL,
    quantity BIGINT NOT NULL,
    unit_price_fen BIGINT NOT NULL,
    amount_fen BIGINT NOT NULL,
    excluded BOOLEAN NOT NULL,
    refunded_quantity BIGINT NOT NULL,
    refunded_fen BIGINT NOT NULL,
    points_earned BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, order_id, line_no),
    CONSTRAINT order_lines_refund_check CHECK (refunded_quantity >= 0 AND refunded_quantity <= quantity
        AND refunded_fen >= 0 AND refunded_fen <= amount_fen)
);

CREATE TABLE order_payments (
    tenant_id UUID NOT NULL,
    order_id UUID NOT NULL,
    seq BIGINT NOT NULL,
    method TEXT NOT NULL,
    amount_fen BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, order_id, seq)
);

CREATE TABLE order_refunds (
    tenant_id UUID NOT NULL,
    id UUID NOT NULL,
    order_id UUID NOT NULL,
    external_refund_id TEXT NOT NULL,
    lines JSONB NOT NULL,
    amount_fen BIGINT NOT NULL,
    points_reversed BIGINT NOT NULL,
    unrecovered BIGINT NOT NULL,
    explanation TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT order_refunds_external_key UNIQUE (tenant_id, order_id, external_refund_id)
);

CREATE TABLE earning_rules (
    tenant_id UUID NOT NULL,
    id UUID NOT NULL,
    rule JSONB NOT NULL,
    priority BIGINT NOT NULL,
    enabled BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- What each rule gave each member, dated by the order's time: positive on accrual, negative on
-- refund, summed over a local day or cap period.
CREATE TABLE rule_accruals (
    tenant_id UUID NOT NULL,
    member_id UUID NOT NULL,
    id UUID NOT NULL,
    rule_id UUID NOT NULL,
    order_id UUID NOT NULL,
    points BIGINT NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, member_id, id)
);
CREATE INDEX rule_accruals_counter_idx ON rule_accruals (tenant_id, member_id, rule_id, occurred_at);

-- Member-owned rows written for a merged member land on the survivor (see 0003_merge.sql).
CREATE TRIGGER orders_follow_merge BEFORE INSERT ON orders
    FOR EACH ROW WHEN (NEW.member_id IS NOT NULL) EXECUTE FUNCTION member_owned_follow_merge();
CREATE TRIGGER rule_accruals_follow_merge BEFORE INSERT ON rule_accruals
    FOR EACH ROW EXECUTE FUNCTION member_owned_follow_merge();
