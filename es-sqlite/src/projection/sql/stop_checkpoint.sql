-- Records why a projection stopped.
--
-- ?1 projection, ?2 the error, ?3 the time.
UPDATE checkpoints SET error = ?2, failed_at = ?3, revision = revision + 1 WHERE projection = ?1 RETURNING revision
