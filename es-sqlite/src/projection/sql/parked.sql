-- A page of a projection's parked events by id after ?2, at most ?3 (-1:
-- all), discarded ones included.
SELECT id, projection, tx, position, stream_id, version, event_name, error, attempts, parked_at, discarded_at,
       discard_reason
FROM parked_events
WHERE projection = ?1 AND id > ?2
ORDER BY id
LIMIT ?3
