-- A page of a projection's parked events, by id (the order they were
-- parked in), discarded ones included.
--
-- $1 projection, $2 the id to start after (0: from the first), $3 the page
-- size (NULL: all).
SELECT id, projection, tx::text::int8, position, stream_id, version, event_name, error, attempts,
       parked_at, discarded_at, discard_reason
FROM {schema}.parked_events
WHERE projection = $1 AND id > $2::int8
ORDER BY id
LIMIT $3::int8
