-- The checkpoints of the projections $1 and why they stopped, if they did.
SELECT projection, tx::text::int8, position, error
FROM {schema}.checkpoints
WHERE projection = ANY($1::text[])
