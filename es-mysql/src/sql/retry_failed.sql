-- Notes that a retry of a parked event failed again.
UPDATE es_parked_events SET error = ?, attempts = attempts + 1 WHERE projection = ? AND id = ?
