-- Moves a projection's checkpoint back to the start of the global order, so
-- that its next runner replays every event. The read model belongs to the
-- application and is left as it is. A row count of 0: no such projection.
--
-- $1 projection name.
UPDATE {schema}.checkpoints
SET tx = '0', position = 0, updated_at = now()
WHERE projection = $1
