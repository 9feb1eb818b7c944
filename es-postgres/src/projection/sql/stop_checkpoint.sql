-- Records why a projection stopped, and tells the waiters of every
-- process.
--
-- $1 projection name, $2 the error, $3 the channel waiters listen on.
-- Returns the checkpoint's new revision.
UPDATE {schema}.checkpoints
SET error = $2, failed_at = now(), revision = revision + 1
WHERE projection = $1
RETURNING revision, pg_notify($3, $1)
