-- Where to read the global order after so that its $2 latest committed
-- events (of aggregate type $1, if given) come first: the position of the
-- ($2+1)-th latest, read backwards on the (tx, position) index. No row: the
-- store holds fewer, and reading starts at the beginning.
--
-- $1 only this aggregate type (NULL: all), $2 how many.
SELECT tx::text::int8, position
FROM {schema}.events
WHERE $1::text IS NULL OR aggregate_type = $1::text
ORDER BY tx DESC, position DESC
OFFSET $2
LIMIT 1
