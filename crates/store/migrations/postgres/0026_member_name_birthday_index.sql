-- The import's probable-duplicate review looks members up by (name, birthday) pairs. Common
-- names are shared by many members, and an index on the name alone made each look-up read every
-- member of that name to compare the birthday; with the birthday in the index, each pair is one
-- index probe. Look-ups by the name alone use the index's prefix as before, and a member still
-- writes one entry into it. Kept in lock step with ../sqlite/0026_member_name_birthday_index.sql.

DROP INDEX members_name_idx;
CREATE INDEX members_name_idx ON members (tenant_id, name_index, birthday);
