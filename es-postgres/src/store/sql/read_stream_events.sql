-- What folding one stream needs, and nothing more: the same range as
-- read_stream.sql, without the envelope columns.
--
-- $5 is the aggregate type the stream is read as: the last column is NULL
-- for an event of that type (all of them, normally), the event's type
-- otherwise.
SELECT version, event_name, event_version, payload, nullif(aggregate_type, $5::text)
FROM {schema}.events
WHERE stream_id = $1
  AND version > $2
  AND version <= coalesce($3::int8, 9223372036854775807)
  AND ($4::timestamptz IS NULL OR recorded_at <= $4::timestamptz)
ORDER BY version
