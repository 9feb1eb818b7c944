-- What folding one stream needs: the same range as read_stream.sql, with
-- the aggregate type of each event to check it.
SELECT aggregate_type, version, event_name, event_version, payload
FROM events
WHERE stream_id = ?1 AND version > ?2 AND version <= ?3 AND (?4 IS NULL OR recorded_at <= ?4)
ORDER BY version
