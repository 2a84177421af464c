-- A coupon's id is unique within its tenant; saying so lets SQLite's planner (which has no
-- statistics) take this index for the compare-and-set updates by id (`mark_used`,
-- `mark_available`). With a plain index it preferred `coupons_expiry_idx` (tenant, state,
-- expires_at) and walked every available coupon of the tenant on each redemption, so
-- redemptions slowed as the tenant's coupons grew (545/s at 10,000 coupons, 376/s at 20,000).
DROP INDEX coupons_id_idx;
CREATE UNIQUE INDEX coupons_id_idx ON coupons (tenant_id, id);
