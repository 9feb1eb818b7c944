-- A stream's snapshot.
SELECT aggregate_type, version, schema_version, state, fingerprint FROM snapshots WHERE stream_id = ?1
