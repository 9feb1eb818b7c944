-- Appends events to one stream in one statement (one round trip, one
-- transaction) if the stream is at the expected version.
--
-- $1 stream id, $2 aggregate type, $3 expected version (NULL: any),
-- $4 event names, $5 event schema versions, $6 payloads, $7 metadata,
-- $8 the command id (NULL: none). A command with an id is recorded in
-- `commands` by the same statement: one already committed on the stream
-- fails on the commands_once key, and nothing is appended.
--
-- Returns the stream's version before the append and, when the expectation
-- held and the stream is of aggregate type $2 (or new), one row per appended
-- event; the last column is the stream's aggregate type (NULL when new). Two
-- writers that both saw the same head collide on the (stream_id, version)
-- unique constraint, so a stream never holds two aggregate types.
WITH last AS (
    SELECT version, aggregate_type
    FROM {schema}.events
    WHERE stream_id = $1
    ORDER BY version DESC
    LIMIT 1
), head AS (
    SELECT coalesce((SELECT version FROM last), 0) AS version, (SELECT aggregate_type FROM last) AS aggregate_type
), appended AS (
    INSERT INTO {schema}.events (aggregate_type, stream_id, version, event_name, event_version, payload, metadata)
    SELECT $2, $1, head.version + e.ord, e.name, e.event_version, e.payload, $7::jsonb
    FROM head, unnest($4::text[], $5::int4[], $6::jsonb[]) WITH ORDINALITY AS e (name, event_version, payload, ord)
    WHERE ($3::int8 IS NULL OR head.version = $3::int8)
      AND (head.aggregate_type IS NULL OR head.aggregate_type = $2)
    ORDER BY e.ord
    RETURNING position, tx, version, recorded_at
), recorded AS (
    INSERT INTO {schema}.commands (stream_id, command_id, first_version, last_version)
    SELECT $1, $8, min(version), max(version) FROM appended WHERE $8::text IS NOT NULL HAVING count(*) > 0
)
SELECT head.version, appended.position, appended.tx, appended.version, appended.recorded_at, head.aggregate_type
FROM head LEFT JOIN appended ON true
ORDER BY appended.version
