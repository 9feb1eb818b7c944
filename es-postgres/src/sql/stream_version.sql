-- The version of a stream's last event (0 when it has none).
SELECT coalesce(max(version), 0) FROM {schema}.events WHERE stream_id = $1
