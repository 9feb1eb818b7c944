-- A projection's checkpoint revision, after the compare-and-set.
SELECT revision FROM es_checkpoints WHERE projection = ?
