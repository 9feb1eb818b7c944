-- Takes a parked event out, in the transaction that handles it.
DELETE FROM es_parked_events WHERE projection = ? AND id = ?
