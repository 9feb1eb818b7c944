-- Why a projection stopped, kept with its checkpoint so that every process
-- (a waiter for read-your-writes, an operator's tool) can see it. A runner
-- clears it when it takes the projection over again.
ALTER TABLE {schema}.checkpoints
    ADD COLUMN error     TEXT,
    ADD COLUMN failed_at TIMESTAMPTZ;

-- Events a projection set aside because it could not handle them (parking
-- poison events). A row is added in the transaction that moves the
-- projection's checkpoint past the event, leaves the table in the
-- transaction that finally handles the event, and stays, marked, when an
-- operator discards it.
CREATE TABLE {schema}.parked_events (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    projection     TEXT NOT NULL,
    tx             XID8 NOT NULL,
    position       BIGINT NOT NULL,
    stream_id      TEXT NOT NULL,
    version        BIGINT NOT NULL,
    event_name     TEXT NOT NULL,
    error          TEXT NOT NULL,
    attempts       INTEGER NOT NULL CHECK (attempts >= 0),
    parked_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    discarded_at   TIMESTAMPTZ,
    discard_reason TEXT,
    CONSTRAINT parked_events_once UNIQUE (projection, tx, position)
);
