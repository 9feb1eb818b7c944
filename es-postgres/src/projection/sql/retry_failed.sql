-- Notes that a retry of a parked event failed again.
--
-- $1 projection, $2 id, $3 the error.
UPDATE {schema}.parked_events
SET error = $3, attempts = attempts + 1
WHERE projection = $1 AND id = $2
