-- Orders from every channel, their lines, payments and refunds; earning rules and what each rule
-- gave each member (the counters behind day and period caps).
-- Kept in lock step with ../postgres/0011_orders.sql.

-- One row per (channel, external order id): a retry of the same order finds it.
-- `member_id` is NULL for an anonymous order until a member claims it (补积分).
CREATE TABLE orders (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    member_id BLOB,
    channel_id BLOB NOT NULL,
    external_id TEXT NOT NULL,
    store_id BLOB,
    format_id BLOB NOT NULL,
    guide_id BLOB,
    occurred_at TEXT NOT NULL,
    total_fen INTEGER NOT NULL,
    paid_by_points_fen INTEGER NOT NULL,
    paid_by_coupons_fen INTEGER NOT NULL,
    refunded_fen INTEGER NOT NULL,
    status TEXT NOT NULL,
    points_earned INTEGER NOT NULL,
    points_reversed INTEGER NOT NULL,
    accrual TEXT,
    claimed_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT orders_external_key UNIQUE (tenant_id, channel_id, external_id),
    CONSTRAINT orders_amounts_check CHECK (total_fen >= 0 AND refunded_fen >= 0 AND refunded_fen <= total_fen)
);
CREATE INDEX orders_member_idx ON orders (tenant_id, member_id, occurred_at);
CREATE INDEX orders_occurred_idx ON orders (tenant_id, occurred_at);

CREATE TABLE order_lines (
    tenant_id BLOB NOT NULL,
    order_id BLOB NOT NULL,
    line_no INTEGER NOT NULL,
    sku TEXT NOT NULL,
    name TEXT NOT NULL,
    category_path TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    unit_price_fen INTEGER NOT NULL,
    amount_fen INTEGER NOT NULL,
    excluded INTEGER NOT NULL,
    refunded_quantity INTEGER NOT NULL,
    refunded_fen INTEGER NOT NULL,
    points_earned INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, order_id, line_no),
    CONSTRAINT order_lines_refund_check CHECK (refunded_quantity >= 0 AND refunded_quantity <= quantity
        AND refunded_fen >= 0 AND refunded_fen <= amount_fen)
);

CREATE TABLE order_payments (
    tenant_id BLOB NOT NULL,
    order_id BLOB NOT NULL,
    seq INTEGER NOT NULL,
    method TEXT NOT NULL,
    amount_fen INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, order_id, seq)
);

CREATE TABLE order_refunds (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    order_id BLOB NOT NULL,
    external_refund_id TEXT NOT NULL,
    lines TEXT NOT NULL,
    amount_fen INTEGER NOT NULL,
    points_reversed INTEGER NOT NULL,
    unrecovered INTEGER NOT NULL,
    explanation TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT order_refunds_external_key UNIQUE (tenant_id, order_id, external_refund_id)
);

CREATE TABLE earning_rules (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    rule TEXT NOT NULL,
    priority INTEGER NOT NULL,
    enabled INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id)
);

-- What each rule gave each member, dated by the order's time: positive on accrual, negative on
-- refund, summed over a local day or cap period.
CREATE TABLE rule_accruals (
    tenant_id BLOB NOT NULL,
    member_id BLOB NOT NULL,
    id BLOB NOT NULL,
    rule_id BLOB NOT NULL,
    order_id BLOB NOT NULL,
    points INTEGER NOT NULL,
    occurred_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, member_id, id)
);
CREATE INDEX rule_accruals_counter_idx ON rule_accruals (tenant_id, member_id, rule_id, occurred_at);

-- Member-owned rows written for a merged member land on the survivor (see 0003_merge.sql).
CREATE TRIGGER orders_follow_merge AFTER INSERT ON orders
WHEN NEW.member_id IS NOT NULL AND EXISTS (SELECT 1 FROM members WHERE tenant_id = NEW.tenant_id AND id = NEW.member_id
             AND status = 'merged' AND merged_into IS NOT NULL)
BEGIN
    UPDATE orders
       SET member_id = (SELECT merged_into FROM members WHERE tenant_id = NEW.tenant_id AND id = NEW.member_id)
     WHERE tenant_id = NEW.tenant_id AND member_id = NEW.member_id AND id = NEW.id;
END;

CREATE TRIGGER rule_accruals_follow_merge AFTER INSERT ON rule_accruals
WHEN EXISTS (SELECT 1 FROM members WHERE tenant_id = NEW.tenant_id AND id = NEW.member_id
             AND status = 'merged' AND merged_into IS NOT NULL)
BEGIN
    UPDATE rule_accruals
       SET member_id = (SELECT merged_into FROM members WHERE tenant_id = NEW.tenant_id AND id = NEW.member_id)
     WHERE tenant_id = NEW.tenant_id AND member_id = NEW.member_id AND id = NEW.id;
END;
