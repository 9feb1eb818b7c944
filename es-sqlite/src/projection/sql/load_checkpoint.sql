-- A projection's checkpoint, taken over by a runner: created at the start
-- of the order the first time, cleared of the error it last stopped on;
-- every change adds one to its revision.
--
-- ?1 projection, ?2 the time.
INSERT INTO checkpoints AS c (projection, updated_at, revision) VALUES (?1, ?2, 1)
ON CONFLICT (projection) DO UPDATE SET error = NULL, failed_at = NULL, revision = c.revision + 1
RETURNING tx, position, revision
