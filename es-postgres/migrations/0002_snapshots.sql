-- The latest snapshot of each stream; an older one never replaces a newer one.
CREATE TABLE {schema}.snapshots (
    stream_id      TEXT PRIMARY KEY,
    aggregate_type TEXT NOT NULL,
    version        BIGINT NOT NULL CHECK (version >= 0),
    schema_version INTEGER NOT NULL CHECK (schema_version >= 0),
    state          JSONB NOT NULL,
    taken_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
