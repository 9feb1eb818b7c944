-- The sessions of this database that hold an advisory lock, with the name
-- they connect under: a runner names its connection for its kind, schema
-- and name (see lease/identity.rs) and holds a session advisory lock while
-- it works; a runner standing by holds none.
SELECT a.application_name,
       coalesce(a.client_hostname, host(a.client_addr), 'local socket'),
       a.pid
FROM pg_stat_activity a
WHERE a.datname = current_database()
  AND starts_with(a.application_name, 'es ')
  AND EXISTS (
      SELECT 1 FROM pg_locks l
      WHERE l.pid = a.pid AND l.locktype = 'advisory' AND l.granted
  )
