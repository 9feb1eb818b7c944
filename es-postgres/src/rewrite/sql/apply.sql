-- Rewrites events in one statement: $1 positions, $2 event names, $3 schema
-- versions, $4 payloads, arrays of one length. The trigger keeps each row's
-- previous content in event_revisions.
UPDATE {schema}.events AS e
SET event_name = n.event_name, event_version = n.event_version, payload = n.payload
FROM UNNEST($1::bigint[], $2::text[], $3::int[], $4::jsonb[]) AS n (position, event_name, event_version, payload)
WHERE e.position = n.position
