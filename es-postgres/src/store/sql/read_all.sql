-- A page of the global order after ($1, $2) = (tx, position), up to the
-- horizon (see horizon.sql): a transaction that started earlier but commits
-- later is still running, so its events are read on a later call and never
-- skipped.
{horizon}
SELECT {columns}, stream_id
FROM {schema}.events
WHERE (tx, position) > ($1::int8::text::xid8, $2::int8)
  AND tx < (SELECT tx FROM horizon)
ORDER BY tx, position
LIMIT $3
