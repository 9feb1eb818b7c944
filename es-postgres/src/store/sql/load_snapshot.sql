SELECT aggregate_type, version, schema_version, state, fingerprint
FROM {schema}.snapshots
WHERE stream_id = $1
