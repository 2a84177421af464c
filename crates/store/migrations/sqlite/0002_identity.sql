-- Member identity: members, identifiers (encrypted, looked up by keyed blind index), name search
-- tokens, consent history, the merge log. Kept in lock step with ../postgres/0002_identity.sql.

CREATE TABLE member_counters (
    tenant_id BLOB NOT NULL PRIMARY KEY REFERENCES tenants (tenant_id),
    next_seq INTEGER NOT NULL
);

CREATE TABLE members (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    seq INTEGER NOT NULL,
    member_no TEXT NOT NULL,
    status TEXT NOT NULL,
    merged_into BLOB,
    name_enc TEXT,
    name_index TEXT,
    gender TEXT,
    birthday TEXT,
    province TEXT,
    city TEXT,
    district TEXT,
    address_enc TEXT,
    address_index TEXT,
    id_card_enc TEXT,
    id_card_index TEXT,
    preferred_store_id BLOB,
    source_channel_id BLOB,
    source_format_id BLOB,
    source_store_id BLOB,
    guide_id BLOB,
    referral_code TEXT NOT NULL,
    referred_by BLOB,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    erased_at TEXT,
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
    tenant_id BLOB NOT NULL,
    member_id BLOB NOT NULL,
    id BLOB NOT NULL,
    kind TEXT NOT NULL,
    value_index TEXT NOT NULL,
    value_enc TEXT NOT NULL,
    matchable INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, member_id, id)
);
-- One person per matchable identifier; shared or blocked ones are stored but never matched.
CREATE UNIQUE INDEX member_identifiers_match_key ON member_identifiers (tenant_id, kind, value_index) WHERE matchable = TRUE;

CREATE TABLE member_search_tokens (
    tenant_id BLOB NOT NULL,
    token TEXT NOT NULL,
    member_id BLOB NOT NULL,
    PRIMARY KEY (tenant_id, token, member_id)
);
CREATE INDEX member_search_tokens_member_idx ON member_search_tokens (tenant_id, member_id);

CREATE TABLE member_consents (
    tenant_id BLOB NOT NULL,
    member_id BLOB NOT NULL,
    id BLOB NOT NULL,
    channel TEXT NOT NULL,
    granted INTEGER NOT NULL,
    source_channel_id BLOB,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, member_id, id)
);

CREATE TABLE member_merges (
    tenant_id BLOB NOT NULL,
    survivor_id BLOB NOT NULL,
    id BLOB NOT NULL,
    source_id BLOB NOT NULL,
    moved TEXT NOT NULL,
    survivor_before TEXT NOT NULL,
    created_at TEXT NOT NULL,
    undone_at TEXT,
    PRIMARY KEY (tenant_id, survivor_id, id)
);
CREATE INDEX member_merges_source_idx ON member_merges (tenant_id, source_id);
