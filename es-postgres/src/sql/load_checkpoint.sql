-- A projection's checkpoint, created at the start of the order the first
-- time the projection runs. One row either way: the SELECT does not see the
-- row the INSERT adds in the same statement.
--
-- $1 projection name.
WITH created AS (
    INSERT INTO {schema}.checkpoints (projection) VALUES ($1)
    ON CONFLICT (projection) DO NOTHING
    RETURNING tx, position
)
SELECT tx::text::int8, position FROM created
UNION ALL
SELECT tx::text::int8, position FROM {schema}.checkpoints WHERE projection = $1
