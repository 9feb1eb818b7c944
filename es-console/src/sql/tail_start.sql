-- Where the live tail starts: the oldest of the latest $2 committed events
-- (of one aggregate type, if given), read backwards on the (tx, position)
-- index. No row: the store is empty.
--
-- $1 only this aggregate type (NULL: all), $2 how many to show at first.
SELECT tx, position
FROM (SELECT e.tx::text::int8 AS tx, e.position
      FROM {schema}.events e
      WHERE $1::text IS NULL OR e.aggregate_type = $1::text
      ORDER BY e.tx DESC, e.position DESC
      LIMIT $2) latest
ORDER BY tx, position
LIMIT 1
