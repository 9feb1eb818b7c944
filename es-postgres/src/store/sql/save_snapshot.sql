-- Saves a stream's snapshot unless a later one is stored, or the stream
-- holds events of another aggregate type than $2. $6 is the state's
-- fingerprint, its 64 bits as a BIGINT.
--
-- Returns the aggregate type of the stream's events (NULL when it has none),
-- so that a refusal names it.
WITH head AS (
    SELECT aggregate_type
    FROM {schema}.events
    WHERE stream_id = $1
    ORDER BY version DESC
    LIMIT 1
), saved AS (
    INSERT INTO {schema}.snapshots AS stored (stream_id, aggregate_type, version, schema_version, state, fingerprint, taken_at)
    SELECT $1, $2, $3, $4, $5, $6, now()
    WHERE NOT EXISTS (SELECT 1 FROM head WHERE head.aggregate_type <> $2)
    ON CONFLICT (stream_id) DO UPDATE
    SET aggregate_type = excluded.aggregate_type,
        version = excluded.version,
        schema_version = excluded.schema_version,
        state = excluded.state,
        fingerprint = excluded.fingerprint,
        taken_at = excluded.taken_at
    WHERE stored.version <= excluded.version
)
SELECT (SELECT aggregate_type FROM head)
