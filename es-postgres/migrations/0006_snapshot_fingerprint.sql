-- The fingerprint of the state type a snapshot was written with: a 64-bit
-- hash of the type's definition, stored bit for bit in a BIGINT (so it may
-- be negative). A snapshot taken before this column existed gets 0, which
-- no derived aggregate has, so it is replayed and replaced once.
ALTER TABLE {schema}.snapshots ADD COLUMN fingerprint BIGINT NOT NULL DEFAULT 0;
