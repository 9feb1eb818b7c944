-- How far read_all lags behind the committed events: the committed events
-- it holds back because an older transaction is still running, and how long
-- the oldest transaction with a transaction id has been running.
SELECT
    (SELECT count(*) FROM {schema}.events WHERE tx >= pg_snapshot_xmin(pg_current_snapshot())),
    (SELECT extract(epoch FROM now() - min(xact_start))::float8
     FROM pg_stat_activity
     WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid())
