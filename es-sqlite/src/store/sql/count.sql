-- The events of the aggregate types in the JSON array ?1 (NULL: all), for
-- progress reports.
SELECT count(*) FROM events WHERE ?1 IS NULL OR aggregate_type IN (SELECT value FROM json_each(?1))
