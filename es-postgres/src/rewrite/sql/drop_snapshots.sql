-- Snapshots of rewritten streams were folded from the old events: $1 the
-- stream ids.
DELETE FROM {schema}.snapshots WHERE stream_id = ANY($1)
