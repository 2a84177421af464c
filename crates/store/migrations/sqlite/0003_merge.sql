-- Merging members: a row written for a member that has been merged lands on the survivor.
-- Kept in lock step with ../postgres/0003_merge.sql.
--
-- SQLite has one writer and every handler finds its member inside its write transaction, so a
-- concurrent merge cannot slip in between; the triggers hold the same rule as PostgreSQL's for
-- any write that names a merged member all the same. A trigger body cannot follow a chain of
-- merges, so this follows one hop (PostgreSQL follows the whole chain). Every table in the
-- store's member-owned registry (`merges::MEMBER_OWNED`) gets a `<table>_follow_merge` trigger;
-- the conformance suite checks that.

CREATE TRIGGER member_identifiers_follow_merge AFTER INSERT ON member_identifiers
WHEN EXISTS (SELECT 1 FROM members WHERE tenant_id = NEW.tenant_id AND id = NEW.member_id
             AND status = 'merged' AND merged_into IS NOT NULL)
BEGIN
    UPDATE member_identifiers
       SET member_id = (SELECT merged_into FROM members WHERE tenant_id = NEW.tenant_id AND id = NEW.member_id)
     WHERE tenant_id = NEW.tenant_id AND member_id = NEW.member_id AND id = NEW.id;
END;

CREATE TRIGGER member_consents_follow_merge AFTER INSERT ON member_consents
WHEN EXISTS (SELECT 1 FROM members WHERE tenant_id = NEW.tenant_id AND id = NEW.member_id
             AND status = 'merged' AND merged_into IS NOT NULL)
BEGIN
    UPDATE member_consents
       SET member_id = (SELECT merged_into FROM members WHERE tenant_id = NEW.tenant_id AND id = NEW.member_id)
     WHERE tenant_id = NEW.tenant_id AND member_id = NEW.member_id AND id = NEW.id;
END;
