-- Whether the schema holds an event store: its events table exists.
--
-- $1 the events table's name, schema-qualified and quoted.
SELECT to_regclass($1) IS NOT NULL
