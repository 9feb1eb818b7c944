-- Moves a projection's checkpoint back to the start. No row changed: no
-- such projection.
--
-- ? the time, ? projection.
UPDATE es_checkpoints
SET tx = 0, position = 0, updated_at = ?, error = NULL, failed_at = NULL, revision = revision + 1
WHERE projection = ?
