-- Moves a projection's checkpoint back to the start of the global order, so
-- that its next runner replays every event, and tells the waiters of every
-- process. The read model belongs to the application and is left as it is.
-- No row back: no such projection.
--
-- $1 projection name, $2 the channel waiters listen on.
UPDATE {schema}.checkpoints
SET tx = '0', position = 0, updated_at = now(), error = NULL, failed_at = NULL, revision = revision + 1
WHERE projection = $1
RETURNING revision, pg_notify($2, $1)
