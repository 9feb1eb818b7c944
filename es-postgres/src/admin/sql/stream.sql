-- A stream's aggregate type, version and first and last event times, read
-- at both ends of the (stream_id, version) index. No row: no such stream.
--
-- $1 the stream id.
SELECT last.aggregate_type, last.version, last.recorded_at,
       (SELECT recorded_at FROM {schema}.events
        WHERE stream_id = $1::text ORDER BY version LIMIT 1) AS first_recorded_at
FROM (SELECT aggregate_type, version, recorded_at
      FROM {schema}.events
      WHERE stream_id = $1::text
      ORDER BY version DESC
      LIMIT 1) last
