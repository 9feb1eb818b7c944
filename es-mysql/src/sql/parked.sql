-- A page of a projection's parked events by id after ?, at most ?,
-- discarded ones included.
SELECT id, projection, tx, position, stream_id, version, event_name, error, attempts, parked_at, discarded_at,
       discard_reason
FROM es_parked_events
WHERE projection = ? AND id > ?
ORDER BY id
LIMIT ?
