-- A stream's head and when its first event was recorded. No row: no such
-- stream.
SELECT aggregate_type, version, recorded_at,
       (SELECT recorded_at FROM events WHERE stream_id = ?1 ORDER BY version LIMIT 1)
FROM events
WHERE stream_id = ?1
ORDER BY version DESC
LIMIT 1
