-- Moves a projection's checkpoint back to the start. No row back: no such
-- projection.
--
-- ?1 projection, ?2 the time.
UPDATE checkpoints SET tx = 0, position = 0, updated_at = ?2, error = NULL, failed_at = NULL, revision = revision + 1
WHERE projection = ?1
RETURNING revision
