-- Parks an event a projection cannot handle, in the transaction that moves
-- its checkpoint past it; parking it again refreshes the record.
--
-- ?1 projection, (?2, ?3) the event's position, ?4 stream id, ?5 version,
-- ?6 event name, ?7 error, ?8 attempts, ?9 the time.
INSERT INTO parked_events (projection, tx, position, stream_id, version, event_name, error, attempts, parked_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
ON CONFLICT (projection, tx, position) DO UPDATE
SET error = excluded.error, attempts = excluded.attempts, parked_at = excluded.parked_at,
    discarded_at = NULL, discard_reason = NULL
