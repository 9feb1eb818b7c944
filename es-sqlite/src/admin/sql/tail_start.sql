-- Where to read the global order after so that its ?2 latest events (of
-- aggregate type ?1, if given) come first: the position of the (?2+1)-th
-- latest. No row: there are fewer, and reading starts at the beginning.
SELECT tx, position FROM events
WHERE ?1 IS NULL OR aggregate_type = ?1
ORDER BY position DESC
LIMIT 1 OFFSET ?2
