-- The event log. `{schema}` is replaced by the quoted schema name.
--
-- Global order is the pair (tx, position): `position` is taken when a row is
-- inserted, `tx` is the inserting transaction's id. A reader only reads rows
-- whose `tx` is below the oldest transaction still running
-- (`pg_snapshot_xmin(pg_current_snapshot())`), so an event whose transaction
-- commits late is never skipped by a reader that already moved past it.
CREATE TABLE {schema}.events (
    position       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tx             XID8 NOT NULL DEFAULT pg_current_xact_id(),
    aggregate_type TEXT NOT NULL,
    stream_id      TEXT NOT NULL,
    version        BIGINT NOT NULL CHECK (version > 0),
    event_name     TEXT NOT NULL,
    event_version  INTEGER NOT NULL CHECK (event_version > 0),
    payload        JSONB NOT NULL,
    metadata       JSONB NOT NULL DEFAULT '{}',
    recorded_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The optimistic concurrency check: two writers cannot both append the
    -- same version of a stream.
    CONSTRAINT events_stream_version UNIQUE (stream_id, version)
);

-- Global reads: `WHERE (tx, position) > ($1, $2) ORDER BY tx, position`.
CREATE INDEX events_tx_position ON {schema}.events (tx, position);

-- Events are facts: the database itself refuses to change or remove them.
CREATE FUNCTION {schema}.refuse_event_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are immutable: % on %.% is refused', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation',
              HINT = 'append a compensating event instead';
END;
$$;

CREATE TRIGGER events_immutable_rows
    BEFORE UPDATE OR DELETE ON {schema}.events
    FOR EACH ROW EXECUTE FUNCTION {schema}.refuse_event_change();

CREATE TRIGGER events_immutable_table
    BEFORE TRUNCATE ON {schema}.events
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.refuse_event_change();
