-- Takes a projection's lock for this session, without waiting: 1 when it
-- is this session's now. Lock names are global to the server, so the
-- database is part of it (hashed: a name holds 64 characters at most).
SELECT GET_LOCK(CONCAT('es:', SHA1(CONCAT(DATABASE(), '.', ?))), 0)
