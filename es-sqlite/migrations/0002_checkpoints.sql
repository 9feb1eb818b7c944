-- How far each projection has read the global order, and why it stopped if
-- it stopped on an event it cannot handle; every change adds one to
-- `revision`. A read model in this file commits its writes with its
-- checkpoint in one transaction.
CREATE TABLE checkpoints (
    projection TEXT PRIMARY KEY,
    tx         INTEGER NOT NULL DEFAULT 0,
    position   INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL,
    error      TEXT,
    failed_at  INTEGER,
    revision   INTEGER NOT NULL DEFAULT 0 CHECK (revision >= 0)
) STRICT;

-- Events a projection set aside because it could not handle them.
CREATE TABLE parked_events (
    id             INTEGER PRIMARY KEY,
    projection     TEXT NOT NULL,
    tx             INTEGER NOT NULL,
    position       INTEGER NOT NULL,
    stream_id      TEXT NOT NULL,
    version        INTEGER NOT NULL,
    event_name     TEXT NOT NULL,
    error          TEXT NOT NULL,
    attempts       INTEGER NOT NULL CHECK (attempts >= 0),
    parked_at      INTEGER NOT NULL,
    discarded_at   INTEGER,
    discard_reason TEXT,
    CONSTRAINT parked_events_once UNIQUE (projection, tx, position)
) STRICT;
