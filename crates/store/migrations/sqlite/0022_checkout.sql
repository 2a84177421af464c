-- Checkout (积分抵现): priced carts holding coupons and points for a limited time, and each
-- tenant's points-as-cash settings.
-- Kept in lock step with ../postgres/0022_checkout.sql.

-- One row per checkout, owned by its member (it follows merges). `state` changes only by
-- compare-and-set: reserved → confirmed | cancelled | expired. `quote` is the priced cart (the
-- domain's `Quote`); `coupons` the coupons it holds with their discounts (state `reserved` on the coupon);
-- `hold_entry_id` the ledger entry that moved the points into `checkout_hold`.
CREATE TABLE checkouts (
    tenant_id BLOB NOT NULL,
    member_id BLOB NOT NULL,
    id BLOB NOT NULL,
    state TEXT NOT NULL,
    format_id BLOB,
    store_id BLOB,
    channel_id BLOB,
    quote TEXT NOT NULL,
    coupons TEXT NOT NULL,
    points INTEGER NOT NULL,
    points_value_fen INTEGER NOT NULL,
    cash_due_fen INTEGER NOT NULL,
    hold_entry_id BLOB,
    points_sources TEXT NOT NULL,
    order_id BLOB,
    order_ref TEXT,
    cancel_reason TEXT,
    expires_at TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    confirmed_at TEXT,
    closed_at TEXT,
    PRIMARY KEY (tenant_id, member_id, id),
    CONSTRAINT checkouts_points_check CHECK (points >= 0 AND points_value_fen >= 0 AND cash_due_fen >= 0)
);
CREATE INDEX checkouts_id_idx ON checkouts (tenant_id, id);
-- What the expiry job scans: reserved checkouts by expiry.
CREATE INDEX checkouts_expiry_idx ON checkouts (tenant_id, state, expires_at);

-- Member-owned rows written for a merged member land on the survivor (see 0003_merge.sql).
CREATE TRIGGER checkouts_follow_merge AFTER INSERT ON checkouts
WHEN EXISTS (SELECT 1 FROM members WHERE tenant_id = NEW.tenant_id AND id = NEW.member_id
             AND status = 'merged' AND merged_into IS NOT NULL)
BEGIN
    UPDATE checkouts
       SET member_id = (SELECT merged_into FROM members WHERE tenant_id = NEW.tenant_id AND id = NEW.member_id)
     WHERE tenant_id = NEW.tenant_id AND member_id = NEW.member_id AND id = NEW.id;
END;

-- Points as cash at checkout; absent means the defaults (at most 50 % of what is left after
-- coupons, points in multiples of 100, reservations held 15 minutes). The points' value is the
-- ledger policy's `fen_per_100_points`.
CREATE TABLE checkout_policies (
    tenant_id BLOB NOT NULL PRIMARY KEY REFERENCES tenants (tenant_id),
    max_share_percent INTEGER NOT NULL,
    points_unit INTEGER NOT NULL,
    hold_minutes INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT checkout_policies_check CHECK (max_share_percent BETWEEN 0 AND 100 AND points_unit >= 1 AND hold_minutes >= 1)
);

-- The built-in administrator role holds every permission, including the new `checkout:write`.
UPDATE roles SET permissions = json_insert(permissions, '$[#]', 'checkout:write')
 WHERE builtin = 1 AND NOT EXISTS (SELECT 1 FROM json_each(roles.permissions) WHERE value = 'checkout:write');

-- Channel keys made with the former defaults (they redeem coupons and post orders: a till or a
-- shop) take part in checkout too, as keys made from now on do.
UPDATE api_keys SET permissions = json_insert(permissions, '$[#]', 'checkout:write')
 WHERE EXISTS (SELECT 1 FROM json_each(api_keys.permissions) WHERE value = 'coupons:redeem')
   AND EXISTS (SELECT 1 FROM json_each(api_keys.permissions) WHERE value = 'orders:write')
   AND NOT EXISTS (SELECT 1 FROM json_each(api_keys.permissions) WHERE value = 'checkout:write');
