-- The sessions of projection runners that hold their projection's lock, in
-- this database. A runner names its connection
-- `es projection <schema>.<projection>` and holds a session advisory lock
-- while it works; a runner standing by holds none.
SELECT a.application_name,
       coalesce(a.client_hostname, host(a.client_addr), 'local socket') AS host,
       a.pid
FROM pg_stat_activity a
WHERE a.datname = current_database()
  AND starts_with(a.application_name, 'es projection ')
  AND EXISTS (
      SELECT 1 FROM pg_locks l
      WHERE l.pid = a.pid AND l.locktype = 'advisory' AND l.granted
  )
