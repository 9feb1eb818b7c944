-- The committed events of the aggregate types $1, for progress reports.
SELECT count(*) FROM {schema}.events WHERE aggregate_type = ANY($1::text[])
