-- Saves a stream's snapshot unless a later one is stored.
--
-- ?1 stream id, ?2 aggregate type, ?3 version, ?4 schema version, ?5 state,
-- ?6 the fingerprint's 64 bits as an INTEGER, ?7 the time.
INSERT INTO snapshots AS stored (stream_id, aggregate_type, version, schema_version, state, fingerprint, taken_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
ON CONFLICT (stream_id) DO UPDATE
SET aggregate_type = excluded.aggregate_type, version = excluded.version, schema_version = excluded.schema_version,
    state = excluded.state, fingerprint = excluded.fingerprint, taken_at = excluded.taken_at
WHERE stored.version <= excluded.version
