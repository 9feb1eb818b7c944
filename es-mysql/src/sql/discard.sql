-- Marks a parked event discarded; the row stays as the record of it.
UPDATE es_parked_events SET discarded_at = ?, discard_reason = ? WHERE projection = ? AND id = ?
