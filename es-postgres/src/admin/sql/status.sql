-- The size of the store: its events, its streams (counted by their first
-- event, in the same scan), the head of the global order (the latest
-- committed event by (tx, position), read backwards on that index) and the
-- bytes its tables take on disk with their indexes.
--
-- $1 the schema's name as stored in the catalog (unquoted).
WITH counts AS (
    SELECT count(*) AS events, count(*) FILTER (WHERE version = 1) AS streams
    FROM {schema}.events
), head AS (
    SELECT tx::text::int8 AS tx, position
    FROM {schema}.events
    ORDER BY tx DESC, position DESC
    LIMIT 1
)
SELECT counts.events,
       counts.streams,
       head.tx,
       head.position,
       (SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::int8
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relkind = 'r')
FROM counts LEFT JOIN head ON true
