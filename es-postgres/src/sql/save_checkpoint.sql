-- Moves a projection's checkpoint, in the transaction of the read-model
-- writes it covers, from where the runner last saw it: a row count of 0
-- means another runner moved it, and the transaction must roll back.
--
-- $1 projection name, ($2, $3) the checkpoint as the runner knows it,
-- ($4, $5) the new one, each as (transaction id, position).
UPDATE {schema}.checkpoints
SET tx = $4::int8::text::xid8, position = $5, updated_at = now()
WHERE projection = $1 AND tx = $2::int8::text::xid8 AND position = $3
