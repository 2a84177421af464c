-- Member identity: members, identifiers (encrypted, looked up by keyed blind index), name search
-- tokens, consent history, the merge log. Kept in lock step with ../sqlite/0002_identity.sql.

CREATE TABLE member_counters (
    tenant_id UUID NOT NULL PRIMARY KEY REFERENCES tenants (tenant_id),
    next_seq BIGINT NOT NULL
);

CREATE TABLE members (
    tenant_id UUID NOT NULL,
    id UUID NOT NULL,
    seq BIGINT NOT NULL,
    member_no TEXT NOT NULL,
    status TEXT NOT NULL,
    merged_into UUID,
    name_enc TEXT,
    name_index TEXT,
    gender TEXT,
    birthday DATE,
    province TEXT,
    city TEXT,
    district TEXT,
    address_enc TEXT,
    address_index TEXT,
    id_card_enc TEXT,
    id_card_index TEXT,
    preferred_store_id UUID,
    source_channel_id UUID,
    source_format_id UUID,
    source_store_id UUID,
    guide_id UUID,
    referral_code TEXT NOT NULL,
    referred_by UUID,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    erased_at TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, id),
    CONSTRAINT members_member_no_key UNIQUE (tenant_id, member_no),
    CONSTRAINT members_seq_key UNIQUE (tenant_id, seq),
    CONSTRAINT members_referral_code_key UNIQUE (tenant_id, referral_code)
);
CREATE INDEX members_store_idx ON members (tenant_id, source_store_id, id);
CREATE INDEX members_format_idx ON members (tenant_id, source_format_id, id);
CREATE INDEX members_guide_idx ON members (tenant_id, guide_id, id);
CREATE INDEX members_name_idx ON members (tenant_id, name_index);
CREATE INDEX members_id_card_idx ON members (tenant_id, id_card_index);

CREATE TABLE member_identifiers (
    tenant_id UUID NOT NULL,
    member_id UUID NOT NULL,
    id UUID NOT NULL,
    kind TEXT NOT NULL,
    value_index TEXT NOT NULL,
    value_enc TEXT NOT NULL,
    matchable BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, member_id, id)
);
-- One person per matchable identifier; shared or blocked ones are stored but never matched.
CREATE UNIQUE INDEX member_identifiers_match_key ON member_identifiers (tenant_id, kind, value_index) WHERE matchable = TRUE;

CREATE TABLE member_search_tokens (
    tenant_id UUID NOT NULL,
    token TEXT NOT NULL,
    member_id UUID NOT NULL,
    PRIMARY KEY (tenant_id, token, member_id)
);
CREATE INDEX member_search_tokens_member_idx ON member_search_tokens (tenant_id, member_id);

CREATE TABLE member_consents (
    tenant_id UUID NOT NULL,
    member_id UUID NOT NULL,
    id UUID NOT NULL,
    channel TEXT NOT NULL,
    granted BOOLEAN NOT NULL,
    source_channel_id UUID,
    recorded_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (tenant_id, member_id, id)
);

CREATE TABLE member_merges (
    tenant_id UUID NOT NULL,
    survivor_id UUID NOT NULL,
    id UUID NOT NULL,
    source_id UUID NOT NULL,
    moved JSONB NOT NULL,
    survivor_before JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    undone_at TIMESTAMPTZ,
    PRIMARY KEY (tenant_id, survivor_id, id)
);
CREATE INDEX member_merges_source_idx ON member_merges (tenant_id, source_id);
