-- Commands sent with a command id (an idempotency key): at most one commit
-- per id and stream. The append that records a command inserts its row in
-- the same statement, so a second append of the same command fails on the
-- primary key and appends nothing, however close together the two come.
CREATE TABLE {schema}.commands (
    stream_id     TEXT NOT NULL,
    command_id    TEXT NOT NULL,
    first_version BIGINT NOT NULL,
    last_version  BIGINT NOT NULL,
    recorded_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT commands_once PRIMARY KEY (stream_id, command_id)
);
