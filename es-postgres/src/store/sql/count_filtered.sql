-- The committed events of the aggregate types $1 (NULL: all) in partition
-- $3 of $2 (NULL: all streams; see read_filtered.sql), for progress
-- reports.
SELECT count(*)
FROM {schema}.events
WHERE ($1::text[] IS NULL OR aggregate_type = ANY($1::text[]))
  AND ($2::int8 IS NULL
       OR mod(('x' || left(md5(stream_id), 8))::bit(32)::int::int8 + 2147483648, $2::int8) = $3::int8)
