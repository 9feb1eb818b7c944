-- Records the application process of the runner on this session, and
-- forgets the rows of sessions that have ended.
--
-- $1 label, $2 process id, $3 process start.
WITH gone AS (
    DELETE FROM {schema}.runners r
    WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = r.backend_pid)
)
INSERT INTO {schema}.runners (backend_pid, label, process_id, process_started)
VALUES (pg_backend_pid(), $1, $2, $3)
ON CONFLICT (backend_pid) DO UPDATE
SET label = EXCLUDED.label, process_id = EXCLUDED.process_id, process_started = EXCLUDED.process_started,
    registered_at = now()
