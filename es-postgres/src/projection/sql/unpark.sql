-- Takes a parked event out, in the transaction that handles it: a
-- concurrent retry of the same event waits for this one, then finds
-- nothing to take.
--
-- $1 projection, $2 id.
DELETE FROM {schema}.parked_events WHERE projection = $1 AND id = $2
