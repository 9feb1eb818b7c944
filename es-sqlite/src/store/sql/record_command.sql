-- Records a command sent with a command id, in its append's transaction:
-- unique in the store by its id.
--
-- ?1 stream id, ?2 command id, ?3 first and ?4 last version, ?5 the time.
INSERT INTO commands (stream_id, command_id, first_version, last_version, recorded_at, store_wide)
VALUES (?1, ?2, ?3, ?4, ?5, 1)
