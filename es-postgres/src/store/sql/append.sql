-- Appends events to one stream in one statement (one round trip, one
-- transaction) if the stream is at the expected version.
--
-- $1 stream id, $2 aggregate type, $3 expected version (NULL: any),
-- $4 event names, $5 event schema versions, $6 payloads, $7 metadata,
-- $8 the command id (NULL: none). A command with an id is recorded in
-- `commands` by the same statement: one already committed on the stream
-- fails on the commands_once key, and nothing is appended.
--
-- Nothing is appended after a head that a transaction which started
-- writing after this one appended (its transaction id is greater): this
-- transaction's events would precede the head in the global order.
--
-- Returns the stream's version before the append and, when the expectation
-- held, the stream is of aggregate type $2 (or new) and its head is not from
-- a later transaction, one row per appended event; then the stream's
-- aggregate type (NULL when new) and whether its head is from a later
-- transaction. Two
-- writers that both saw the same head collide on the (stream_id, version)
-- unique constraint, so a stream never holds two aggregate types.
WITH last AS (
    SELECT version, aggregate_type, tx
    FROM {schema}.events
    WHERE stream_id = $1
    ORDER BY version DESC
    LIMIT 1
), head AS (
    SELECT coalesce((SELECT version FROM last), 0) AS version, (SELECT aggregate_type FROM last) AS aggregate_type,
           coalesce((SELECT tx > pg_current_xact_id() FROM last), false) AS later
), appended AS (
    INSERT INTO {schema}.events (aggregate_type, stream_id, version, event_name, event_version, payload, metadata)
    SELECT $2, $1, head.version + e.ord, e.name, e.event_version, e.payload, $7::jsonb
    FROM head, unnest($4::text[], $5::int4[], $6::jsonb[]) WITH ORDINALITY AS e (name, event_version, payload, ord)
    WHERE ($3::int8 IS NULL OR head.version = $3::int8)
      AND (head.aggregate_type IS NULL OR head.aggregate_type = $2)
      AND NOT head.later
    ORDER BY e.ord
    RETURNING position, tx, version, recorded_at
), recorded AS (
    INSERT INTO {schema}.commands (stream_id, command_id, first_version, last_version)
    SELECT $1, $8, min(version), max(version) FROM appended WHERE $8::text IS NOT NULL HAVING count(*) > 0
)
SELECT head.version, appended.position, appended.tx, appended.version, appended.recorded_at, head.aggregate_type,
       head.later
FROM head LEFT JOIN appended ON true
ORDER BY appended.version
