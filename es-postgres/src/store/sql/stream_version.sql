-- The version of a stream's last event, the stream's aggregate type and
-- whether that event is from a transaction which started writing after
-- this one; no row when it has no events.
SELECT version, aggregate_type, tx > pg_current_xact_id()
FROM {schema}.events
WHERE stream_id = $1
ORDER BY version DESC
LIMIT 1
