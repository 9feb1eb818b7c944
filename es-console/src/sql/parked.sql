-- A page of a projection's parked events, by id (the order they were
-- parked in), discarded ones included and marked.
--
-- $1 the projection, $2 the id to start after (0: from the first), $3 the
-- page size.
SELECT id, tx::text::int8 AS tx, position, stream_id, version, event_name, error, attempts,
       parked_at, discarded_at, discard_reason
FROM {schema}.parked_events
WHERE projection = $1::text AND id > $2::int8
ORDER BY id
LIMIT $3
