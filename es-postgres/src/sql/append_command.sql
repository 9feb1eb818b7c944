-- Appends the events of a command with a command id: append.sql, plus the
-- command's row, in one statement. A command already committed on the
-- stream fails on the commands_once key and appends nothing.
--
-- $1 to $7 as in append.sql, $8 the command id.
WITH head AS (
    SELECT coalesce(max(version), 0) AS version
    FROM {schema}.events
    WHERE stream_id = $1
), appended AS (
    INSERT INTO {schema}.events (aggregate_type, stream_id, version, event_name, event_version, payload, metadata)
    SELECT $2, $1, head.version + e.ord, e.name, e.event_version, e.payload, $7::jsonb
    FROM head, unnest($4::text[], $5::int4[], $6::jsonb[]) WITH ORDINALITY AS e (name, event_version, payload, ord)
    WHERE $3::int8 IS NULL OR head.version = $3::int8
    ORDER BY e.ord
    RETURNING position, tx, version, recorded_at
), recorded AS (
    INSERT INTO {schema}.commands (stream_id, command_id, first_version, last_version)
    SELECT $1, $8, min(version), max(version) FROM appended HAVING count(*) > 0
)
SELECT head.version, appended.position, appended.tx, appended.version, appended.recorded_at
FROM head LEFT JOIN appended ON true
ORDER BY appended.version
