-- The events a rewrite may change, in global order, locked until it
-- commits. $1 event name, $2 stream id, $3 lowest and $4 highest schema
-- version: a NULL matches any.
SELECT {columns}, stream_id
FROM {schema}.events
WHERE ($1::text IS NULL OR event_name = $1)
  AND ($2::text IS NULL OR stream_id = $2)
  AND ($3::int IS NULL OR event_version >= $3)
  AND ($4::int IS NULL OR event_version <= $4)
ORDER BY tx, position
FOR UPDATE
