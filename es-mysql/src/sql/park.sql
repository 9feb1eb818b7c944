-- Parks an event a projection cannot handle, in the transaction that moves
-- its checkpoint past it; parking it again refreshes the record.
--
-- ? projection, (? ?) the event's position, ? stream id, ? version,
-- ? event name, ? error, ? attempts, ? the time.
INSERT INTO es_parked_events (projection, tx, position, stream_id, version, event_name, error, attempts, parked_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON DUPLICATE KEY UPDATE error = VALUES(error), attempts = VALUES(attempts), parked_at = VALUES(parked_at),
                        discarded_at = NULL, discard_reason = NULL
