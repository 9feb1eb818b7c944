-- Saves a stream's snapshot unless a later one is stored.
INSERT INTO {schema}.snapshots AS stored (stream_id, aggregate_type, version, schema_version, state, taken_at)
VALUES ($1, $2, $3, $4, $5, now())
ON CONFLICT (stream_id) DO UPDATE
SET aggregate_type = excluded.aggregate_type,
    version = excluded.version,
    schema_version = excluded.schema_version,
    state = excluded.state,
    taken_at = excluded.taken_at
WHERE stored.version <= excluded.version
