-- The sessions of this database that runners connect with, with the name
-- they connect under: a runner names its connection for its kind, schema
-- and name (see lease/identity.rs) and holds a session advisory lock while
-- it works; a runner standing by holds none. The application process each
-- runs in, where it registered one (see lease/sql/register.sql).
SELECT a.application_name,
       coalesce(a.client_hostname, host(a.client_addr), 'local socket'),
       a.pid,
       EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.locktype = 'advisory' AND l.granted),
       r.label,
       r.process_id,
       r.process_started
FROM pg_stat_activity a
LEFT JOIN {schema}.runners r ON r.backend_pid = a.pid
WHERE a.datname = current_database()
  AND starts_with(a.application_name, 'es ')
