-- Deletes the outbox messages enqueued more than $1 seconds ago that every
-- outbox consumer (checkpoints named `outbox:<consumer>`) has delivered.
-- Without any consumer nothing counts as delivered.
--
-- $1 the retention, in seconds.
DELETE FROM {schema}.outbox o
WHERE o.enqueued_at < now() - make_interval(secs => $1::float8)
  AND EXISTS (SELECT 1 FROM {schema}.checkpoints WHERE starts_with(projection, 'outbox:'))
  AND (o.tx, o.position) <= ALL (
      SELECT c.tx, c.position FROM {schema}.checkpoints c WHERE starts_with(c.projection, 'outbox:')
  )
