-- What folding one stream needs, and nothing more: the same range as
-- read_stream.sql, without the envelope columns.
SELECT version, event_name, event_version, payload
FROM {schema}.events
WHERE stream_id = $1
  AND version > $2
  AND version <= coalesce($3::int8, 9223372036854775807)
  AND ($4::timestamptz IS NULL OR recorded_at <= $4::timestamptz)
ORDER BY version
