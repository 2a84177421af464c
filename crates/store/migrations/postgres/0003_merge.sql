-- Merging members: a row written for a member that has been merged lands on the survivor.
-- Kept in lock step with ../sqlite/0003_merge.sql.
--
-- A write that found its member before a concurrent merge committed (PostgreSQL reads committed
-- data per statement) would otherwise leave the row on a merged member, out of every view. The
-- trigger locks the member row FOR KEY SHARE, which a merge's FOR UPDATE excludes: a write that
-- came first is committed before the merge moves rows, and a write that comes during or after a
-- merge waits for it, then reads the merged row and follows `merged_into` (a chain is short: each
-- merge adds one hop). Every table in the store's member-owned registry (`merges::MEMBER_OWNED`)
-- gets a `<table>_follow_merge` trigger; the conformance suite checks that.

CREATE FUNCTION member_owned_follow_merge() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    member_status TEXT;
    next_member UUID;
BEGIN
    FOR hop IN 1..16 LOOP
        SELECT status, merged_into INTO member_status, next_member FROM members
            WHERE tenant_id = NEW.tenant_id AND id = NEW.member_id FOR KEY SHARE;
        EXIT WHEN NOT FOUND OR member_status <> 'merged' OR next_member IS NULL;
        NEW.member_id := next_member;
    END LOOP;
    RETURN NEW;
END;
$$;

CREATE TRIGGER member_identifiers_follow_merge BEFORE INSERT ON member_identifiers
    FOR EACH ROW EXECUTE FUNCTION member_owned_follow_merge();
CREATE TRIGGER member_consents_follow_merge BEFORE INSERT ON member_consents
    FOR EACH ROW EXECUTE FUNCTION member_owned_follow_merge();
