-- A projection's parked events ($2 NULL) or one of them ($2 its id),
-- oldest first.
SELECT id, projection, tx::text::int8, position, stream_id, version, event_name, error, attempts,
       parked_at, discarded_at, discard_reason
FROM {schema}.parked_events
WHERE projection = $1 AND ($2::int8 IS NULL OR id = $2::int8)
ORDER BY tx, position
