-- Takes a parked event out, in the transaction that handles it.
DELETE FROM parked_events WHERE projection = ?1 AND id = ?2
