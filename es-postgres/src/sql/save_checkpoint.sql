-- Moves a projection's checkpoint, in the transaction of the read-model
-- writes it covers.
--
-- $1 projection name, $2 transaction id, $3 position.
UPDATE {schema}.checkpoints
SET tx = $2::int8::text::xid8, position = $3, updated_at = now()
WHERE projection = $1
