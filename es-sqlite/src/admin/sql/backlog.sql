-- The events after position ?1: how many, and when the oldest was recorded.
SELECT count(*), min(recorded_at) FROM events WHERE position > ?1
