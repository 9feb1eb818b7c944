-- A stream's head: the version of its last event and its aggregate type;
-- no row when it has no events. Read on the (stream_id, version) index.
--
-- ?1 stream id.
SELECT version, aggregate_type FROM events WHERE stream_id = ?1 ORDER BY version DESC LIMIT 1
