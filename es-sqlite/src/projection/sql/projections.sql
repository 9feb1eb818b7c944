-- A page of checkpoints by name after ?1 (NULL: from the first), at most
-- ?2, with the parked events nobody discarded.
SELECT c.projection, c.tx, c.position, c.updated_at, c.error,
       (SELECT count(*) FROM parked_events p WHERE p.projection = c.projection AND p.discarded_at IS NULL)
FROM checkpoints c
WHERE ?1 IS NULL OR c.projection > ?1
ORDER BY c.projection
LIMIT ?2
