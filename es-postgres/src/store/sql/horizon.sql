-- The horizon of the global order: every event with `tx` below it is
-- final (its transaction has ended, and no later transaction can take a
-- smaller id), so a reader that stops there never skips a late commit.
--
-- It is the oldest transaction still running, like
-- `pg_snapshot_xmin(pg_current_snapshot())`, except that transactions
-- known to run in another database of the cluster are left out: they
-- cannot write to this database's tables, and must not hold its readers
-- back. `pg_stat_activity` shows every role the database and the
-- transaction id of every session. A transaction it does not show (it
-- ended between the snapshot and the look-up, or it is prepared) or whose
-- database it cannot tell is assumed to run here: the horizon errs on the
-- side of waiting, never of skipping.
WITH snapshot AS MATERIALIZED (
    SELECT pg_current_snapshot() AS s
), elsewhere AS MATERIALIZED (
    SELECT backend_xid
    FROM pg_stat_activity
    WHERE backend_xid IS NOT NULL
      AND datid <> (SELECT oid FROM pg_database WHERE datname = current_database())
), horizon AS MATERIALIZED (
    SELECT least(
        pg_snapshot_xmax(s),
        (SELECT min(x) FROM pg_snapshot_xip(s) AS x
         WHERE x::xid NOT IN (SELECT backend_xid FROM elsewhere))
    ) AS tx
    FROM snapshot
)
