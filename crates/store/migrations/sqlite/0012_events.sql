-- Event rewards: each tenant's reward configuration, and the member events that earned a reward.
-- The unique key `member_events_once` lets the database, not the application, decide that a
-- sign-in happens once per member and local day, a check-in once per store and day, and that a
-- capped event (share, review, custom) takes one of its day's numbered slots (`seq` 1..cap).
-- Kept in lock step with ../postgres/0012_events.sql.

CREATE TABLE event_reward_configs (
    tenant_id BLOB NOT NULL PRIMARY KEY REFERENCES tenants (tenant_id),
    config TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE member_events (
    tenant_id BLOB NOT NULL,
    member_id BLOB NOT NULL,
    id BLOB NOT NULL,
    -- sign_in, check_in, share, review, profile_completed, custom, registration, birthday, referral
    kind TEXT NOT NULL,
    -- What "once a day" is counted per: '' for most kinds, the store id of a check-in, the name of
    -- a custom event.
    subject TEXT NOT NULL,
    -- The calendar day in the tenant's time zone when the event happened.
    local_day TEXT NOT NULL,
    seq INTEGER NOT NULL,
    occurred_at TEXT NOT NULL,
    -- Consecutive local days of sign-in ending with this one (sign-in only; 0 otherwise).
    streak INTEGER NOT NULL,
    points INTEGER NOT NULL,
    -- The answer given, replayed to a second sign-in of the same day.
    outcome TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, member_id, id),
    CONSTRAINT member_events_once UNIQUE (tenant_id, member_id, kind, subject, local_day, seq),
    CONSTRAINT member_events_seq_check CHECK (seq >= 1)
);
