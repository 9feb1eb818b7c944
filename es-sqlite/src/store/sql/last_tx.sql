-- The number of the last append, read from the last event (the rowid's
-- end of the table): the next append takes the one after it.
SELECT tx FROM events ORDER BY position DESC LIMIT 1
