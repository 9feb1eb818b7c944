-- Saves a stream's snapshot unless a later one is stored. $6 is the state's
-- fingerprint, its 64 bits as a BIGINT.
INSERT INTO {schema}.snapshots AS stored (stream_id, aggregate_type, version, schema_version, state, fingerprint, taken_at)
VALUES ($1, $2, $3, $4, $5, $6, now())
ON CONFLICT (stream_id) DO UPDATE
SET aggregate_type = excluded.aggregate_type,
    version = excluded.version,
    schema_version = excluded.schema_version,
    state = excluded.state,
    fingerprint = excluded.fingerprint,
    taken_at = excluded.taken_at
WHERE stored.version <= excluded.version
