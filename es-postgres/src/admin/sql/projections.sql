-- Every projection's checkpoint and how far behind the committed events it
-- is: how many events come after it in the global order, and how long ago
-- the oldest of them was recorded (NULL when it is caught up). Both read
-- the (tx, position) index from the checkpoint on. Also why it stopped, if
-- it stopped on an event it cannot handle, and how many events it parked
-- and nobody has discarded. A page at a time, by name.
--
-- $1 the projection to start after ('' for the first), $2 the page size.
SELECT c.projection,
       c.tx::text::int8 AS tx,
       c.position,
       c.updated_at,
       behind.events AS behind,
       behind.oldest_seconds,
       c.error AS stopped,
       (SELECT count(*) FROM {schema}.parked_events p
        WHERE p.projection = c.projection AND p.discarded_at IS NULL) AS parked
FROM {schema}.checkpoints c
CROSS JOIN LATERAL (
    SELECT count(*) AS events,
           extract(epoch FROM now() - min(e.recorded_at))::float8 AS oldest_seconds
    FROM {schema}.events e
    WHERE (e.tx, e.position) > (c.tx, c.position)
) behind
WHERE c.projection > $1::text
ORDER BY c.projection
LIMIT $2
