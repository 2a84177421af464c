-- Member indexes on columns most members leave empty (a legacy import or a group-wide channel
-- places members in no store, format or guide; few give an ID number) index only the rows that
-- have a value: each new member then writes four fewer index entries. Every query on these
-- columns compares with `=` or `IN`, which implies NOT NULL, so it can still use them.
-- Kept in lock step with ../postgres/0025_member_partial_indexes.sql.

DROP INDEX members_store_idx;
DROP INDEX members_format_idx;
DROP INDEX members_guide_idx;
DROP INDEX members_id_card_idx;
CREATE INDEX members_store_idx ON members (tenant_id, source_store_id, id) WHERE source_store_id IS NOT NULL;
CREATE INDEX members_format_idx ON members (tenant_id, source_format_id, id) WHERE source_format_id IS NOT NULL;
CREATE INDEX members_guide_idx ON members (tenant_id, guide_id, id) WHERE guide_id IS NOT NULL;
CREATE INDEX members_id_card_idx ON members (tenant_id, id_card_index) WHERE id_card_index IS NOT NULL;

-- The merged members alone, by id: the follow-merge triggers on member identifiers and consents
-- ask of every inserted row whether its member is merged; this tiny index answers that without
-- reading the member's row.
CREATE INDEX members_merged_idx ON members (tenant_id, id) WHERE status = 'merged' AND merged_into IS NOT NULL;
-- SQLite's planner would take the primary key (one row, but a read of the member's page) for
-- these checks; naming the index keeps them on it. The triggers are otherwise those of 0003.
DROP TRIGGER member_identifiers_follow_merge;
CREATE TRIGGER member_identifiers_follow_merge AFTER INSERT ON member_identifiers
WHEN EXISTS (SELECT 1 FROM members INDEXED BY members_merged_idx
             WHERE tenant_id = NEW.tenant_id AND id = NEW.member_id
             AND status = 'merged' AND merged_into IS NOT NULL)
BEGIN
    UPDATE member_identifiers
       SET member_id = (SELECT merged_into FROM members WHERE tenant_id = NEW.tenant_id AND id = NEW.member_id)
     WHERE tenant_id = NEW.tenant_id AND member_id = NEW.member_id AND id = NEW.id;
END;

DROP TRIGGER member_consents_follow_merge;
CREATE TRIGGER member_consents_follow_merge AFTER INSERT ON member_consents
WHEN EXISTS (SELECT 1 FROM members INDEXED BY members_merged_idx
             WHERE tenant_id = NEW.tenant_id AND id = NEW.member_id
             AND status = 'merged' AND merged_into IS NOT NULL)
BEGIN
    UPDATE member_consents
       SET member_id = (SELECT merged_into FROM members WHERE tenant_id = NEW.tenant_id AND id = NEW.member_id)
     WHERE tenant_id = NEW.tenant_id AND member_id = NEW.member_id AND id = NEW.id;
END;
