-- Tiers (会员等级): each tenant's ladder, every member's tier state, and the full history of tier
-- changes. A member without a `member_tiers` row is on the ladder's lowest level.
-- Kept in lock step with ../sqlite/0013_tiers.sql.

CREATE TABLE tier_ladders (
    tenant_id UUID NOT NULL PRIMARY KEY REFERENCES tenants (tenant_id),
    ladder JSONB NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

-- `version` grows with every update; writers guard their update with the version they read, so
-- two nodes evaluating one member at once record the evaluation once.
CREATE TABLE member_tiers (
    tenant_id UUID NOT NULL,
    member_id UUID NOT NULL,
    level_code TEXT NOT NULL,
    since TIMESTAMPTZ NOT NULL,
    next_evaluation_at TIMESTAMPTZ,
    override_level_code TEXT,
    override_expires_at TIMESTAMPTZ,
    override_reason TEXT,
    version BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, member_id)
);
-- The evaluation job's work lists: evaluations due, overrides expired.
CREATE INDEX member_tiers_evaluation_idx ON member_tiers (tenant_id, next_evaluation_at);
CREATE INDEX member_tiers_override_idx ON member_tiers (tenant_id, override_expires_at);

CREATE TABLE tier_changes (
    tenant_id UUID NOT NULL,
    member_id UUID NOT NULL,
    id UUID NOT NULL,
    from_level TEXT NOT NULL,
    to_level TEXT NOT NULL,
    reason TEXT NOT NULL,
    qualifying_total BIGINT,
    next_evaluation_at TIMESTAMPTZ,
    override_level_code TEXT,
    override_expires_at TIMESTAMPTZ,
    override_reason TEXT,
    at TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, member_id, id)
);
