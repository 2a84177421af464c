-- Legacy import: reviewing probable duplicates looks members up by the blind index of their address
-- (name and ID number already have theirs). Kept in lock step with ../postgres/0004_import.sql.

CREATE INDEX members_address_idx ON members (tenant_id, address_index);
