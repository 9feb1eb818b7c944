-- How far each projection has read the global order: the (tx, position)
-- pair of the last event it processed, comparable with
-- `(events.tx, events.position)` directly.
CREATE TABLE {schema}.checkpoints (
    projection TEXT PRIMARY KEY,
    tx         XID8 NOT NULL DEFAULT '0',
    position   BIGINT NOT NULL DEFAULT 0,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
