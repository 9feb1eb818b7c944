-- A projection's checkpoint, taken over by a runner: created at the start
-- of the order the first time the projection runs, and cleared of the
-- error the projection last stopped on.
--
-- $1 projection name.
INSERT INTO {schema}.checkpoints (projection) VALUES ($1)
ON CONFLICT (projection) DO UPDATE SET error = NULL, failed_at = NULL
RETURNING tx::text::int8, position
