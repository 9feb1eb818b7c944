-- The application processes of the runners: each runner, when it
-- connects, records its server session (pg_backend_pid) with the label,
-- process id and start time of the application process it runs in, so
-- that the tools name the process to look at rather than a session of the
-- server. A row whose session has ended is replaced when its pid comes
-- round again, and removed when the next runner registers.
CREATE TABLE {schema}.runners (
    backend_pid     INT4 PRIMARY KEY,
    label           TEXT NOT NULL,
    process_id      INT8 NOT NULL,
    process_started TIMESTAMPTZ NOT NULL,
    registered_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
