-- A page of the events of the aggregate types $4 (NULL: all) in partition
-- $6 of $5 (NULL: all streams) after ($1, $2) = (tx, position), up to the
-- horizon, like read_all.sql; events filtered out never leave the database.
--
-- A stream's partition is the first 32 bits of the md5 of its id, modulo
-- the number of partitions: stable across releases and servers, and the
-- same for every event of the stream, so each stream's events stay in one
-- partition, in order.
--
-- Each row also carries the last event of any type below the horizon
-- (`through`): when the page is not full, the reader has seen every event
-- it reads up to there, and moves on from it. One statement, so the page
-- and `through` share one snapshot. When nothing is new, a single row of
-- NULLs comes back.
{horizon}, page AS (
    SELECT {columns}, stream_id
    FROM {schema}.events
    WHERE (tx, position) > ($1::int8::text::xid8, $2::int8)
      AND tx < (SELECT tx FROM horizon)
      AND ($4::text[] IS NULL OR aggregate_type = ANY($4::text[]))
      AND ($5::int8 IS NULL
           OR mod(('x' || left(md5(stream_id), 8))::bit(32)::int::int8 + 2147483648, $5::int8) = $6::int8)
    ORDER BY tx, position
    LIMIT $3
), through AS (
    SELECT tx, position
    FROM {schema}.events
    WHERE (tx, position) > ($1::int8::text::xid8, $2::int8)
      AND tx < (SELECT tx FROM horizon)
    ORDER BY tx DESC, position DESC
    LIMIT 1
)
SELECT page.*, through.tx, through.position
FROM through LEFT JOIN page ON true
ORDER BY page.tx, page.position
