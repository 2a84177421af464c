-- Tiers (会员等级): each tenant's ladder, every member's tier state, and the full history of tier
-- changes. A member without a `member_tiers` row is on the ladder's lowest level.
-- Kept in lock step with ../postgres/0013_tiers.sql.

CREATE TABLE tier_ladders (
    tenant_id BLOB NOT NULL PRIMARY KEY REFERENCES tenants (tenant_id),
    ladder TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- `version` grows with every update; writers guard their update with the version they read, so
-- two nodes evaluating one member at once record the evaluation once.
CREATE TABLE member_tiers (
    tenant_id BLOB NOT NULL,
    member_id BLOB NOT NULL,
    level_code TEXT NOT NULL,
    since TEXT NOT NULL,
    next_evaluation_at TEXT,
    override_level_code TEXT,
    override_expires_at TEXT,
    override_reason TEXT,
    version INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, member_id)
);
-- The evaluation job's work lists: evaluations due, overrides expired.
CREATE INDEX member_tiers_evaluation_idx ON member_tiers (tenant_id, next_evaluation_at);
CREATE INDEX member_tiers_override_idx ON member_tiers (tenant_id, override_expires_at);

CREATE TABLE tier_changes (
    tenant_id BLOB NOT NULL,
    member_id BLOB NOT NULL,
    id BLOB NOT NULL,
    from_level TEXT NOT NULL,
    to_level TEXT NOT NULL,
    reason TEXT NOT NULL,
    qualifying_total INTEGER,
    next_evaluation_at TEXT,
    override_level_code TEXT,
    override_expires_at TEXT,
    override_reason TEXT,
    at TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, member_id, id)
);
