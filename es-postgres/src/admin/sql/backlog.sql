-- The committed events after ($1, $2) = (tx, position) in the global order:
-- how many, and when the oldest was recorded (NULL when there are none),
-- read on the (tx, position) index from there on.
SELECT count(*), min(recorded_at)
FROM {schema}.events
WHERE (tx, position) > ($1::int8::text::xid8, $2::int8)
