-- The size of the store: its events, its streams (counted by their first
-- event) and the bytes of the file.
SELECT (SELECT count(*) FROM events),
       (SELECT count(*) FROM events WHERE version = 1),
       (SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size())
