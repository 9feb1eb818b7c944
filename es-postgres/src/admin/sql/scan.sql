-- A page of every event in stream order, for checks that look at each
-- stream whole. Read on the (stream_id, version) unique index, after
-- ($1, $2), the last row of the previous page ('' and 0 for the first).
--
-- $1 stream id, $2 version, $3 the page size.
SELECT stream_id, version, aggregate_type, event_name, event_version, payload
FROM {schema}.events
WHERE (stream_id, version) > ($1::text, $2::int8)
ORDER BY stream_id, version
LIMIT $3
