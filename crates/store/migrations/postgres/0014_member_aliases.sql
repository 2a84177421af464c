-- A member's aliases (members merged into it), for tier totals that follow merges. Partial: only
-- merged members have `merged_into`.
CREATE INDEX members_merged_into_idx ON members (tenant_id, merged_into) WHERE merged_into IS NOT NULL;
