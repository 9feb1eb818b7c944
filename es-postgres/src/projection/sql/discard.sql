-- Marks a parked event discarded by an operator; the row stays as the
-- record of that decision.
--
-- $1 projection, $2 id, $3 the reason.
UPDATE {schema}.parked_events
SET discarded_at = now(), discard_reason = $3
WHERE projection = $1 AND id = $2
