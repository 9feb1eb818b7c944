-- Parks an event a projection cannot handle, in the transaction that moves
-- its checkpoint past it. Parking it again (a rebuild that fails on it
-- once more) refreshes the record.
--
-- $1 projection, ($2, $3) the event's (tx, position), $4 stream id,
-- $5 version, $6 event name, $7 error, $8 attempts.
INSERT INTO {schema}.parked_events (projection, tx, position, stream_id, version, event_name, error, attempts)
VALUES ($1, $2::int8::text::xid8, $3, $4, $5, $6, $7, $8)
ON CONFLICT (projection, tx, position) DO UPDATE
SET error = excluded.error, attempts = excluded.attempts, parked_at = now(),
    discarded_at = NULL, discard_reason = NULL
