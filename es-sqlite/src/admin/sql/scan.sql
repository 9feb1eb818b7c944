-- A page of every event in stream order, after (?1, ?2), the last row of
-- the previous page ('' and 0 for the first), read on the (stream_id,
-- version) index.
SELECT stream_id, version, aggregate_type, event_name, event_version, payload
FROM events
WHERE (stream_id, version) > (?1, ?2)
ORDER BY stream_id, version
LIMIT ?3
