-- The last event of the global order, of any type: what a filtered read
-- that is not full has read through.
SELECT tx, position FROM events ORDER BY position DESC LIMIT 1
