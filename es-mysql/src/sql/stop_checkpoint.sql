-- Records why a projection stopped.
--
-- ? the error, ? the time, ? projection.
UPDATE es_checkpoints SET error = ?, failed_at = ?, revision = revision + 1 WHERE projection = ?
