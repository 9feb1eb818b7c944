-- Audited rewrites: the one way a stored event may change.
--
-- Events stay immutable to everything but a transaction that first declares
-- a rewrite, with a reason and an actor, by inserting a row into `rewrites`.
-- The trigger below then lets that transaction change an event's name,
-- schema version and payload (never its stream, version, position, time or
-- metadata), and records every changed row's previous and new content in
-- `event_revisions` itself, so no change escapes the audit. DELETE and
-- TRUNCATE stay refused.
--
-- The trigger guards against mistakes by roles that may UPDATE. An
-- application role should hold only SELECT and INSERT on `events`
-- (`PgEventStore::grant_app_role`): it can neither update rows nor disable
-- the trigger, which needs the table's owner, nor set
-- `session_replication_role`, which needs a superuser.

-- One declared rewrite. `tx` ties it to the transaction that runs it.
CREATE TABLE {schema}.rewrites (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tx          XID8 NOT NULL DEFAULT pg_current_xact_id() UNIQUE,
    reason      TEXT NOT NULL CHECK (btrim(reason) <> ''),
    actor       TEXT NOT NULL CHECK (btrim(actor) <> ''),
    filter      JSONB NOT NULL DEFAULT '{}',
    rewritten_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Each changed event's content before and after, per rewrite.
CREATE TABLE {schema}.event_revisions (
    rewrite_id        BIGINT NOT NULL REFERENCES {schema}.rewrites (id),
    position          BIGINT NOT NULL,
    stream_id         TEXT NOT NULL,
    version           BIGINT NOT NULL,
    old_event_name    TEXT NOT NULL,
    old_event_version INTEGER NOT NULL,
    old_payload       JSONB NOT NULL,
    new_event_name    TEXT NOT NULL,
    new_event_version INTEGER NOT NULL,
    new_payload       JSONB NOT NULL,
    PRIMARY KEY (rewrite_id, position)
);

CREATE INDEX event_revisions_position ON {schema}.event_revisions (position);

CREATE OR REPLACE FUNCTION {schema}.refuse_event_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    declared BIGINT;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        SELECT id INTO declared FROM {schema}.rewrites WHERE tx = pg_current_xact_id();
        IF declared IS NULL THEN
            RAISE EXCEPTION 'events are immutable: UPDATE on %.% is refused', TG_TABLE_SCHEMA, TG_TABLE_NAME
                USING ERRCODE = 'restrict_violation',
                      HINT = 'append a compensating event, or rewrite through PgEventStore::rewrite with a reason';
        END IF;
        IF (NEW.position, NEW.tx, NEW.aggregate_type, NEW.stream_id, NEW.version, NEW.metadata, NEW.recorded_at)
           IS DISTINCT FROM
           (OLD.position, OLD.tx, OLD.aggregate_type, OLD.stream_id, OLD.version, OLD.metadata, OLD.recorded_at) THEN
            RAISE EXCEPTION 'a rewrite may change an event''s name, schema version and payload only'
                USING ERRCODE = 'restrict_violation';
        END IF;
        INSERT INTO {schema}.event_revisions (
            rewrite_id, position, stream_id, version,
            old_event_name, old_event_version, old_payload,
            new_event_name, new_event_version, new_payload
        ) VALUES (
            declared, OLD.position, OLD.stream_id, OLD.version,
            OLD.event_name, OLD.event_version, OLD.payload,
            NEW.event_name, NEW.event_version, NEW.payload
        );
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'events are immutable: % on %.% is refused', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation',
              HINT = 'append a compensating event instead';
END;
$$;
