-- The event log. The global order is `position`, the rowid: writers take
-- the database's one write lock for each append (BEGIN IMMEDIATE), so
-- positions are given in commit order, and a rolled-back append leaves no
-- gap (the next append takes the same numbers). `tx` numbers the appends,
-- the commit part of a position. Times are microseconds since the Unix
-- epoch, UTC.
CREATE TABLE events (
    position       INTEGER PRIMARY KEY,
    tx             INTEGER NOT NULL,
    aggregate_type TEXT NOT NULL,
    stream_id      TEXT NOT NULL,
    version        INTEGER NOT NULL CHECK (version > 0),
    event_name     TEXT NOT NULL,
    event_version  INTEGER NOT NULL CHECK (event_version > 0),
    payload        TEXT NOT NULL,
    metadata       TEXT NOT NULL DEFAULT '{}',
    recorded_at    INTEGER NOT NULL,
    -- The optimistic concurrency check, kept by the database too.
    CONSTRAINT events_stream_version UNIQUE (stream_id, version)
) STRICT;

-- Reads of some aggregate types in global order.
CREATE INDEX events_type_position ON events (aggregate_type, position);

-- Events are facts: the database itself refuses to change or remove them.
CREATE TRIGGER events_immutable_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are immutable: UPDATE on events is refused; append a compensating event instead');
END;

CREATE TRIGGER events_immutable_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are immutable: DELETE on events is refused; append a compensating event instead');
END;

-- The latest snapshot of each stream; an older one never replaces a newer one.
CREATE TABLE snapshots (
    stream_id      TEXT PRIMARY KEY,
    aggregate_type TEXT NOT NULL,
    version        INTEGER NOT NULL CHECK (version >= 0),
    schema_version INTEGER NOT NULL CHECK (schema_version >= 0),
    state          TEXT NOT NULL,
    fingerprint    INTEGER NOT NULL,
    taken_at       INTEGER NOT NULL
) STRICT;

-- Commands sent with a command id: at most one commit per id and stream.
CREATE TABLE commands (
    stream_id     TEXT NOT NULL,
    command_id    TEXT NOT NULL,
    first_version INTEGER NOT NULL,
    last_version  INTEGER NOT NULL,
    recorded_at   INTEGER NOT NULL,
    CONSTRAINT commands_once PRIMARY KEY (stream_id, command_id)
) STRICT;
