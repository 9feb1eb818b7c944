-- Forgets a projection's parked events, in the transaction that resets its
-- read model for a rebuild.
DELETE FROM es_parked_events WHERE projection = ?
