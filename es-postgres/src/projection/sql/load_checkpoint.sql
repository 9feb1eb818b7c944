-- A projection's checkpoint, taken over by a runner: created at the start
-- of the order the first time the projection runs, and cleared of the
-- error the projection last stopped on. Waiters in every process are told
-- (a takeover is a change: a stopped projection runs again).
--
-- $1 projection name, $2 the channel waiters listen on.
INSERT INTO {schema}.checkpoints AS c (projection, revision) VALUES ($1, 1)
ON CONFLICT (projection) DO UPDATE
SET error = NULL, failed_at = NULL, revision = c.revision + 1
RETURNING tx::text::int8, position, revision, pg_notify($2, $1)
