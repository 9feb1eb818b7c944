-- The stream command id ?1 was committed on, if it was: on stream ?2
-- (whatever the rule it was recorded under) or, store-wide, on another.
-- This stream's first.
--
-- ?1 command id, ?2 stream id.
SELECT stream_id FROM commands
WHERE command_id = ?1 AND (stream_id = ?2 OR store_wide = 1)
ORDER BY stream_id <> ?2
LIMIT 1
