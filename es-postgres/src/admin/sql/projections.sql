-- A page of checkpoints by name: each with where it stands, when it last
-- moved, why it stopped if it stopped on an event it cannot handle, and
-- how many events it parked that nobody discarded.
--
-- $1 the name to start after (NULL: from the first), $2 the page size.
SELECT c.projection,
       c.tx::text::int8,
       c.position,
       c.updated_at,
       c.error,
       (SELECT count(*) FROM {schema}.parked_events p
        WHERE p.projection = c.projection AND p.discarded_at IS NULL)
FROM {schema}.checkpoints c
WHERE $1::text IS NULL OR c.projection > $1::text
ORDER BY c.projection
LIMIT $2
