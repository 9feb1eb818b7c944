-- One stream's events in version order: after ?2, up to version ?3 and up
-- to the time ?4 (NULL: no bound).
SELECT position, tx, version, recorded_at, aggregate_type, event_name, event_version, payload, metadata, stream_id
FROM events
WHERE stream_id = ?1 AND version > ?2 AND version <= ?3 AND (?4 IS NULL OR recorded_at <= ?4)
ORDER BY version
