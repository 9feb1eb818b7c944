-- The version a stream was at, at a time: its last event recorded at or
-- before it (NULL: none was). Walks the stream backwards on the
-- (stream_id, version) index from its end, since recent times are asked
-- for most.
--
-- $1 the stream id, $2 the time.
SELECT max(version) AS version
FROM {schema}.events
WHERE stream_id = $1::text AND recorded_at <= $2::timestamptz
