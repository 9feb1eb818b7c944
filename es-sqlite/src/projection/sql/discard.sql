-- Marks a parked event discarded; the row stays as the record of it.
UPDATE parked_events SET discarded_at = ?4, discard_reason = ?3 WHERE projection = ?1 AND id = ?2
