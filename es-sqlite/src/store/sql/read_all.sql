-- A page of the global order after position ?1. Appends commit in position
-- order (one writer at a time), so every event below a committed one is
-- committed too: reading on from the last position returned skips nothing.
SELECT position, tx, version, recorded_at, aggregate_type, event_name, event_version, payload, metadata, stream_id
FROM events
WHERE position > ?1
ORDER BY position
LIMIT ?2
