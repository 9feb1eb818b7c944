-- Appends one event at an exact version: the common case of a command,
-- in the leanest statement (no array unnesting, no head computation).
--
-- $1 stream id, $2 aggregate type, $3 expected version (0: no stream),
-- $4 event name, $5 event schema version, $6 payload, $7 metadata.
--
-- Inserts nothing when the stream has no event of aggregate type $2 at
-- version $3, or that event is from a transaction which started writing
-- after this one (see append.sql); a stream already past $3 collides on
-- the (stream_id, version) unique constraint.
-- The rows have the shape of append.sql's.
INSERT INTO {schema}.events (aggregate_type, stream_id, version, event_name, event_version, payload, metadata)
SELECT $2::text, $1::text, $3::int8 + 1, $4::text, $5::int4, $6::jsonb, $7::jsonb
WHERE $3::int8 = 0
   OR EXISTS (
       SELECT 1 FROM {schema}.events
       WHERE stream_id = $1 AND version = $3::int8 AND aggregate_type = $2::text AND tx <= pg_current_xact_id()
   )
RETURNING $3::int8, position, tx, version, recorded_at
