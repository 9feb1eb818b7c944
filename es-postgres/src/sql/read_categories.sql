-- A page of the events of the aggregate types $4 after ($1, $2) =
-- (tx, position), up to the horizon, like read_all.sql; events of other
-- types never leave the database.
--
-- Each row also carries the last event of any type below the horizon
-- (`through`): when the page is not full, the reader has seen every event
-- of its types up to there, and moves on from it. One statement, so the
-- page and `through` share one snapshot. When nothing is new, a single row
-- of NULLs comes back.
{horizon}, page AS (
    SELECT {columns}, stream_id
    FROM {schema}.events
    WHERE (tx, position) > ($1::int8::text::xid8, $2::int8)
      AND tx < (SELECT tx FROM horizon)
      AND aggregate_type = ANY($4::text[])
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
