-- A page of the events of the aggregate types in the JSON array ?3 after
-- position ?1, read on the (aggregate_type, position) index.
SELECT position, tx, version, recorded_at, aggregate_type, event_name, event_version, payload, metadata, stream_id
FROM events
WHERE position > ?1 AND aggregate_type IN (SELECT value FROM json_each(?3))
ORDER BY position
LIMIT ?2
