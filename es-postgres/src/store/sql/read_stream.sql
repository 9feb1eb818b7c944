-- One stream's events in version order: after $2, up to version $3 and up to
-- recorded time $4 (NULL: no bound).
SELECT {columns}
FROM {schema}.events
WHERE stream_id = $1
  AND version > $2
  AND version <= coalesce($3::int8, 9223372036854775807)
  AND ($4::timestamptz IS NULL OR recorded_at <= $4::timestamptz)
ORDER BY version
