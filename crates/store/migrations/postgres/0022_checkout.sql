-- Checkout (积分抵现): priced carts holding coupons and points for a limited time, and each
-- tenant's points-as-cash settings.
-- Kept in lock step with ../sqlite/0022_checkout.sql.

-- One row per checkout, owned by its member (it follows merges). `state` changes only by
-- compare-and-set: reserved → confirmed | cancelled | expired. `quote` is the priced cart (the
-- domain's `Quote`); `coupons` the coupons it holds with their discounts (state `reserved` on the coupon);
-- `hold_entry_id` the ledger entry that moved the points into `checkout_hold`.
CREATE TABLE checkouts (
    tenant_id UUID NOT NULL,
    member_id UUID NOT NULL,
    id UUID NOT NULL,
    state TEXT NOT NULL,
    format_id UUID,
    store_id UUID,
    channel_id UUID,
    quote JSONB NOT NULL,
    coupons JSONB NOT NULL,
    points BIGINT NOT NULL,
    points_value_fen BIGINT NOT NULL,
    cash_due_fen BIGINT NOT NULL,
    hold_entry_id UUID,
    points_sources JSONB NOT NULL,
    order_id UUID,
    order_ref TEXT,
    cancel_reason TEXT,
    expires_at TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    confirmed_at TIMESTAMPTZ,
    closed_at TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, member_id, id),
    CONSTRAINT checkouts_points_check CHECK (points >= 0 AND points_value_fen >= 0 AND cash_due_fen >= 0)
);
CREATE INDEX checkouts_id_idx ON checkouts (tenant_id, id);
-- What the expiry job scans: reserved checkouts by expiry.
CREATE INDEX checkouts_expiry_idx ON checkouts (tenant_id, state, expires_at);

CREATE TRIGGER checkouts_follow_merge BEFORE INSERT ON checkouts
    FOR EACH ROW EXECUTE FUNCTION member_owned_follow_merge();

-- Points as cash at checkout; absent means the defaults (at most 50 % of what is left after
-- coupons, points in multiples of 100, reservations held 15 minutes). The points' value is the
-- ledger policy's `fen_per_100_points`.
CREATE TABLE checkout_policies (
    tenant_id UUID NOT NULL PRIMARY KEY REFERENCES tenants (tenant_id),
    max_share_percent BIGINT NOT NULL,
    points_unit BIGINT NOT NULL,
    hold_minutes BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT checkout_policies_check CHECK (max_share_percent BETWEEN 0 AND 100 AND points_unit >= 1 AND hold_minutes >= 1)
);

-- The built-in administrator role holds every permission, including the new `checkout:write`.
UPDATE roles SET permissions = permissions || '["checkout:write"]'::jsonb
 WHERE builtin AND NOT permissions ? 'checkout:write';

-- Channel keys made with the former defaults (they redeem coupons and post orders: a till or a
-- shop) take part in checkout too, as keys made from now on do.
UPDATE api_keys SET permissions = permissions || '["checkout:write"]'::jsonb
 WHERE permissions ? 'coupons:redeem' AND permissions ? 'orders:write'
   AND NOT permissions ? 'checkout:write';
