-- Moves a projection's checkpoint, in the transaction of the read-model
-- writes it covers, from where the runner last saw it: no row back means
-- another runner moved it, and the transaction must roll back.
-- Waiters in every process are told at commit (the notification is sent
-- only if the transaction commits).
--
-- $1 projection name, ($2, $3) the checkpoint as the runner knows it,
-- ($4, $5) the new one, each as (transaction id, position), $6 the
-- channel waiters listen on. Returns the checkpoint's new revision.
UPDATE {schema}.checkpoints
SET tx = $4::int8::text::xid8, position = $5, updated_at = now(), error = NULL, failed_at = NULL,
    revision = revision + 1
WHERE projection = $1 AND tx = $2::int8::text::xid8 AND position = $3
RETURNING revision, pg_notify($6, $1)
