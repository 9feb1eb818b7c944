-- Notes that a retry of a parked event failed again.
UPDATE parked_events SET error = ?3, attempts = attempts + 1 WHERE projection = ?1 AND id = ?2
