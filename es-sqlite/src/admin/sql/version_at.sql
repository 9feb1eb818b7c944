-- The version a stream was at, at a time: its last event recorded at or
-- before it (NULL: none was).
SELECT max(version) FROM events WHERE stream_id = ?1 AND recorded_at <= ?2
