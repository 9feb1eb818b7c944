-- The checkpoints of the projections $1, why they stopped if they did, and
-- their revisions.
SELECT projection, tx::text::int8, position, error, revision
FROM {schema}.checkpoints
WHERE projection = ANY($1::text[])
