-- How far read_all lags behind the committed events: the committed events
-- it holds back because an older transaction of this database is still
-- running (see horizon.sql), and how long the oldest transaction with a
-- transaction id in this database has been running.
{horizon}
SELECT
    (SELECT count(*) FROM {schema}.events WHERE tx >= (SELECT tx FROM horizon)),
    (SELECT extract(epoch FROM now() - min(xact_start))::float8
     FROM pg_stat_activity
     WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()
       AND datname = current_database())
