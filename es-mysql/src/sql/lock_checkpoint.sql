-- Locks a projection's checkpoint row for the page's transaction, so that
-- runners of one projection take their turns instead of deadlocking on
-- the read model's rows.
SELECT revision FROM es_checkpoints WHERE projection = ? FOR UPDATE
