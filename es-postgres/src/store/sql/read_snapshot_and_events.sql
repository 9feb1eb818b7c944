-- What loading an aggregate from its snapshot needs, in one round trip: the
-- stream's snapshot, unless it is past the version to stop at, and the
-- events after it; after $2 instead when the snapshot has another schema
-- version than the reader's, which then folds every event.
--
-- $1 stream id, $2 version to read after, $3 version to stop at (NULL: the
-- head), $4 time to stop at (NULL: none), $5 the reader's snapshot schema
-- version, $6 the aggregate type the stream is read as.
--
-- The snapshot row comes first, with the columns of load_snapshot.sql and
-- NULL in the others; each event row has NULL in those and the columns of
-- read_stream_events.sql after them (the last: the event's aggregate type
-- when it is not $6).
WITH snapshot AS (
    SELECT aggregate_type, version, schema_version, state, fingerprint
    FROM {schema}.snapshots
    WHERE stream_id = $1
      AND version <= coalesce($3::int8, 9223372036854775807)
)
SELECT aggregate_type, version, schema_version, state, fingerprint,
       NULL::int8, NULL::text, NULL::int4, NULL::jsonb, NULL::text
FROM snapshot
UNION ALL
(
    SELECT NULL, NULL, NULL, NULL, NULL,
           version, event_name, event_version, payload, nullif(aggregate_type, $6::text)
    FROM {schema}.events
    WHERE stream_id = $1
      -- greatest() ignores the NULL of a missing or unusable snapshot.
      AND version > greatest($2::int8, (SELECT version FROM snapshot WHERE schema_version = $5::int4))
      AND version <= coalesce($3::int8, 9223372036854775807)
      AND ($4::timestamptz IS NULL OR recorded_at <= $4::timestamptz)
    ORDER BY version
)
