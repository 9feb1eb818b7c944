-- Moves a projection's checkpoint, in the transaction of the read-model
-- writes it covers, from where the runner last saw it: no row back means
-- another runner moved it, and the transaction must roll back. This
-- compare-and-set is what keeps a page exactly-once.
--
-- ?1 projection, (?2, ?3) the checkpoint as the runner knows it, (?4, ?5)
-- the new one, ?6 the time.
UPDATE checkpoints
SET tx = ?4, position = ?5, updated_at = ?6, error = NULL, failed_at = NULL, revision = revision + 1
WHERE projection = ?1 AND tx = ?2 AND position = ?3
RETURNING revision
