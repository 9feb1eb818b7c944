-- Every committed event, for progress reports.
SELECT count(*) FROM {schema}.events
