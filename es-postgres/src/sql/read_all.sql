-- A page of the global order after ($1, $2) = (tx, position).
--
-- Only transactions older than every transaction still running are read:
-- a transaction that started earlier but commits later is still running,
-- so its events are read on a later call and never skipped.
SELECT {columns}, stream_id
FROM {schema}.events
WHERE (tx, position) > ($1::int8::text::xid8, $2::int8)
  AND tx < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY tx, position
LIMIT $3
