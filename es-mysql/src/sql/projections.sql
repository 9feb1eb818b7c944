-- A page of checkpoints by name after ? (NULL: from the first), at most ?,
-- with the parked events nobody discarded and the session holding each
-- projection's lock.
SELECT c.projection, c.tx, c.position, c.updated_at, c.error,
       (SELECT count(*) FROM es_parked_events p WHERE p.projection = c.projection AND p.discarded_at IS NULL),
       l.ID, l.HOST
FROM es_checkpoints c
LEFT JOIN information_schema.PROCESSLIST l
       ON l.ID = IS_USED_LOCK(CONCAT('es:', SHA1(CONCAT(DATABASE(), '.', c.projection))))
WHERE ? IS NULL OR c.projection > ?
ORDER BY c.projection
LIMIT ?
