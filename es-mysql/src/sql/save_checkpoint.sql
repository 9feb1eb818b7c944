-- Moves a projection's checkpoint, in the transaction of the read-model
-- writes it covers, from where the runner last saw it: no row changed
-- means another runner moved it, and the transaction must roll back. This
-- compare-and-set is what keeps a page exactly-once. The revision always
-- changes, so the affected rows are the matched ones whether or not the
-- connection reports found rows (CLIENT_FOUND_ROWS).
--
-- ? new tx, ? new position, ? the time, ? projection, ? tx and ? position
-- as the runner knows them.
UPDATE es_checkpoints
SET tx = ?, position = ?, updated_at = ?, error = NULL, failed_at = NULL, revision = revision + 1
WHERE projection = ? AND tx = ? AND position = ?
