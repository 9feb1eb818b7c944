-- Where `tail --last N` starts reading: the position of the (N+1)-th latest
-- committed event (of one aggregate type, if given), read backwards on the
-- (tx, position) index, so that the N after it are shown. No row: the store
-- holds fewer, and the tail starts at the beginning.
--
-- $1 only this aggregate type (NULL: all), $2 N.
SELECT tx::text::int8 AS tx, position
FROM {schema}.events
WHERE $1::text IS NULL OR aggregate_type = $1::text
ORDER BY tx DESC, position DESC
OFFSET $2
LIMIT 1
