-- A projection's checkpoint, taken over by a runner: created at the start
-- of the order the first time, cleared of the error it last stopped on.
--
-- ? projection, ? the time.
INSERT INTO es_checkpoints (projection, updated_at, revision) VALUES (?, ?, 1)
ON DUPLICATE KEY UPDATE error = NULL, failed_at = NULL, revision = revision + 1
