-- The version of a stream's last event and the stream's aggregate type;
-- no row when it has no events.
SELECT version, aggregate_type
FROM {schema}.events
WHERE stream_id = $1
ORDER BY version DESC
LIMIT 1
