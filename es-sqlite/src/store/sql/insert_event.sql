-- One event of an append; its position is the next rowid.
--
-- ?1 the append's number, ?2 aggregate type, ?3 stream id, ?4 version,
-- ?5 event name, ?6 schema version, ?7 payload, ?8 metadata, ?9 the time.
INSERT INTO events (tx, aggregate_type, stream_id, version, event_name, event_version, payload, metadata, recorded_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
