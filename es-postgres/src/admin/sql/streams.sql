-- A page of streams in stream id order whose ids start with a prefix: each
-- stream's id, aggregate type, version and when its last event was
-- recorded.
--
-- The streams are walked on the (stream_id, version) unique index, one probe
-- for the next id and one for its last event (a loose index scan), so a page
-- costs the streams it reads, not the whole table. The walk starts at the
-- prefix (or after $2, the last id of the previous page) and stops at the
-- first id without the prefix or at $4 rows.
--
-- $1 the prefix ('' for all), $2 the stream id to start after (NULL: from
-- the first), $3 only this aggregate type (NULL: all), $4 the page size.
WITH RECURSIVE ids (stream_id) AS (
    (SELECT stream_id FROM {schema}.events
     WHERE stream_id >= $1::text AND ($2::text IS NULL OR stream_id > $2::text)
     ORDER BY stream_id
     LIMIT 1)
    UNION ALL
    SELECT (SELECT e.stream_id FROM {schema}.events e
            WHERE e.stream_id > ids.stream_id
            ORDER BY e.stream_id
            LIMIT 1)
    FROM ids
    WHERE ids.stream_id IS NOT NULL AND starts_with(ids.stream_id, $1::text)
)
SELECT last.stream_id, last.aggregate_type, last.version, last.recorded_at
FROM ids
CROSS JOIN LATERAL (
    SELECT stream_id, aggregate_type, version, recorded_at
    FROM {schema}.events
    WHERE stream_id = ids.stream_id
    ORDER BY version DESC
    LIMIT 1
) last
WHERE starts_with(ids.stream_id, $1::text) AND ($3::text IS NULL OR last.aggregate_type = $3::text)
LIMIT $4
