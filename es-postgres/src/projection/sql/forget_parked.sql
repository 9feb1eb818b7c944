-- Forgets a projection's parked events, in the transaction that resets its
-- read model for a rebuild: the rebuild handles them again.
DELETE FROM {schema}.parked_events WHERE projection = $1
