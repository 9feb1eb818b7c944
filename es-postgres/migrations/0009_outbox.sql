-- The outbox: messages a CRUD write side enqueues in its own transactions,
-- delivered in commit order. Like the event log, the order is the pair
-- (tx, position) and readers stop at the horizon (see src/sql/horizon.sql),
-- so a message whose transaction commits late is never skipped.
CREATE TABLE {schema}.outbox (
    position    BIGINT GENERATED ALWAYS AS IDENTITY,
    tx          XID8 NOT NULL DEFAULT pg_current_xact_id(),
    topic       TEXT NOT NULL,
    key         TEXT NOT NULL,
    payload     JSONB NOT NULL,
    enqueued_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (tx, position)
);
