-- A page of the outbox after ($1, $2) = (tx, position), in commit order, up
-- to the horizon (see horizon.sql): a transaction that enqueued earlier but
-- commits later is still running, so its messages are read on a later call
-- and never skipped.
--
-- $1, $2 the consumer's checkpoint, $3 the page size.
{horizon}
SELECT tx::text::int8, position, topic, key, payload, enqueued_at
FROM {schema}.outbox
WHERE (tx, position) > ($1::int8::text::xid8, $2::int8)
  AND tx < (SELECT tx FROM horizon)
ORDER BY tx, position
LIMIT $3
